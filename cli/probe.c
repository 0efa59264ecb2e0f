/* Looks at COMMAND before exec to warn when LD_PRELOAD cannot reach it: a statically
 * linked program (no PT_INTERP, so no dynamic loader to preload anything), an ELF
 * class or machine the library is not built for, or a set-user/group-ID or
 * file-capability program (the loader runs it in secure mode and drops LD_PRELOAD).
 * We read the ELF headers ourselves: two fixed layouts, either byte order. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

#define PROBE_MAX_PHNUM 4096   /* more program headers than this: not worth judging */
#define PROBE_SCRIPT_DEPTH 4   /* #! interpreters followed, as the kernel limits too */

bool probe_resolve(const char *cmd, char *out, size_t cap)
{
	if (!*cmd)
		return false;
	if (strchr(cmd, '/'))
		return str_copy(out, cmd, cap) < cap;

	/* glibc's execvp searches this when PATH is unset. */
	const char *path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin";
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int dirlen = (int)(end - p);
		/* An empty PATH element means the current directory. */
		int n = dirlen ? snprintf(out, cap, "%.*s/%s", dirlen, p, cmd)
			       : snprintf(out, cap, "%s", cmd);
		struct stat st;
		if (n > 0 && (size_t)n < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return true;
		if (!*end)
			break;
		p = end;
	}
	return false;
}

/* ---- ELF ---- */

struct elf_info {
	unsigned char cls;  /* ELFCLASS32 / ELFCLASS64 */
	unsigned char data; /* ELFDATA2LSB / ELFDATA2MSB */
	uint16_t type, machine;
	bool has_interp;
	bool judged; /* program headers read: has_interp is meaningful */
};

static uint16_t rd16(const unsigned char *p, unsigned char data)
{
	return data == ELFDATA2LSB ? (uint16_t)(p[0] | p[1] << 8) : (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const unsigned char *p, unsigned char data)
{
	uint32_t lo = rd16(p, data), hi = rd16(p + 2, data);
	return data == ELFDATA2LSB ? (hi << 16 | lo) : (lo << 16 | hi);
}

static uint64_t rd64(const unsigned char *p, unsigned char data)
{
	uint64_t lo = rd32(p, data), hi = rd32(p + 4, data);
	return data == ELFDATA2LSB ? (hi << 32 | lo) : (lo << 32 | hi);
}

/* Fills info from an open file. false: not an ELF file we understand. */
static bool elf_read(int fd, struct elf_info *info)
{
	unsigned char eh[sizeof(Elf64_Ehdr)];
	ssize_t n = pread(fd, eh, sizeof(eh), 0);
	if (n < (ssize_t)sizeof(Elf32_Ehdr) || memcmp(eh, ELFMAG, SELFMAG) != 0)
		return false;

	memset(info, 0, sizeof(*info));
	info->cls = eh[EI_CLASS];
	info->data = eh[EI_DATA];
	if ((info->cls != ELFCLASS32 && info->cls != ELFCLASS64) ||
	    (info->data != ELFDATA2LSB && info->data != ELFDATA2MSB))
		return false;
	if (info->cls == ELFCLASS64 && n < (ssize_t)sizeof(Elf64_Ehdr))
		return false;

	uint64_t phoff;
	uint16_t phentsize, phnum;
	info->type = rd16(eh + offsetof(Elf32_Ehdr, e_type), info->data);
	info->machine = rd16(eh + offsetof(Elf32_Ehdr, e_machine), info->data);
	if (info->cls == ELFCLASS64) {
		phoff = rd64(eh + offsetof(Elf64_Ehdr, e_phoff), info->data);
		phentsize = rd16(eh + offsetof(Elf64_Ehdr, e_phentsize), info->data);
		phnum = rd16(eh + offsetof(Elf64_Ehdr, e_phnum), info->data);
	} else {
		phoff = rd32(eh + offsetof(Elf32_Ehdr, e_phoff), info->data);
		phentsize = rd16(eh + offsetof(Elf32_Ehdr, e_phentsize), info->data);
		phnum = rd16(eh + offsetof(Elf32_Ehdr, e_phnum), info->data);
	}

	/* p_type is the first 32-bit word of a program header in both classes. */
	size_t minent = info->cls == ELFCLASS64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (phnum == 0 || phnum > PROBE_MAX_PHNUM || phentsize < minent || phoff > INT64_MAX)
		return true; /* odd headers (or PN_XNUM): do not guess */
	/* Read in chunks of whole entries: one pread for any ordinary program. */
	unsigned char chunk[4096];
	size_t per = sizeof(chunk) / phentsize;
	if (per == 0)
		return true;
	for (size_t i = 0; i < phnum; i += per) {
		size_t count = phnum - i < per ? phnum - i : per;
		size_t want = (count - 1) * phentsize + 4; /* the last p_type is enough */
		off_t at = (off_t)(phoff + (uint64_t)i * phentsize);
		if (pread(fd, chunk, want, at) != (ssize_t)want)
			return true;
		for (size_t j = 0; j < count; j++) {
			if (rd32(chunk + j * phentsize, info->data) == PT_INTERP) {
				info->has_interp = true;
				info->judged = true;
				return true;
			}
		}
	}
	info->judged = true;
	return true;
}

static bool elf_read_path(const char *path, struct elf_info *info)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = elf_read(fd, info);
	close(fd);
	return ok;
}

/* ---- privileges ---- */

/* True when exec of this file would run in secure mode (AT_SECURE), where ld.so
 * ignores LD_PRELOAD: set-user-ID to another user, set-group-ID to another group,
 * or file capabilities for a non-root caller. A nosuid mount disables all of it. */
static const char *secure_reason(int fd, const struct stat *st)
{
	struct statvfs vfs;
	if (fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
		return NULL;
	if ((st->st_mode & S_ISUID) && st->st_uid != getuid())
		return "set-user-ID";
	/* Without group execute permission S_ISGID means mandatory locking, not setgid. */
	if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) && st->st_gid != getgid())
		return "set-group-ID";
	if (getuid() != 0 && fgetxattr(fd, "security.capability", NULL, 0) >= 0)
		return "given file capabilities";
	return NULL;
}

/* The interpreter named on a "#!" line, or false. */
bool probe_script_interp(int fd, char *out, size_t cap)
{
	char line[256];
	ssize_t n = pread(fd, line, sizeof(line) - 1, 0);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return false;
	line[n] = '\0';
	char *p = line + 2;
	p += strspn(p, " \t");
	size_t len = strcspn(p, " \t\n");
	if (len == 0 || len >= cap || p[len] == '\0')
		return false; /* no end of line within our read: too long to trust */
	memcpy(out, p, len);
	out[len] = '\0';
	return true;
}

static void probe_one(const char *path, const struct elf_info *lib, int depth)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* not readable: exec will say what is wrong, if anything */

	struct stat st;
	struct elf_info info;
	char interp[PATH_MAX];
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;

	const char *why = secure_reason(fd, &st);
	if (why)
		cli_warn("warning: %s is %s: the loader ignores LD_PRELOAD for it, so its "
			 "connections will not go through the proxy",
			 path, why);

	if (elf_read(fd, &info)) {
		if (info.type != ET_EXEC && info.type != ET_DYN)
			goto out;
		if (info.judged && !info.has_interp)
			cli_warn("warning: %s is statically linked: LD_PRELOAD cannot reach it, so "
				 "its connections will not go through the proxy",
				 path);
		else if (lib && (info.cls != lib->cls || info.machine != lib->machine))
			cli_warn("warning: %s is built for another architecture (ELF%d, machine %u) "
				 "than libsocksify.so (ELF%d, machine %u): the loader will skip the "
				 "library, so its connections will not go through the proxy",
				 path, info.cls == ELFCLASS64 ? 64 : 32, info.machine,
				 lib->cls == ELFCLASS64 ? 64 : 32, lib->machine);
	} else if (depth < PROBE_SCRIPT_DEPTH && probe_script_interp(fd, interp, sizeof(interp))) {
		/* A script is only as reachable as the interpreter that runs it. */
		probe_one(interp, lib, depth + 1);
	}
out:
	close(fd);
}

void probe_warn(const char *path, const char *lib)
{
	struct elf_info libinfo;
	bool have_lib = lib && elf_read_path(lib, &libinfo);
	probe_one(path, have_lib ? &libinfo : NULL, 0);
}
