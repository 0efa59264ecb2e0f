/* Which programs the supervisor takes: no PT_INTERP (statically linked: no loader to
 * preload anything) or built by Go (its net package makes the system calls itself,
 * even when dynamically linked). Go leaves a section named .go.buildinfo (the module
 * and build settings, kept by strip) and .note.go.buildid; either one is enough.
 * Only our own ELF class and byte order are read: the filter knows only our system
 * call numbers, and another architecture is refused there anyway. */
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "supervise.h"

#if __SIZEOF_POINTER__ == 8
typedef Elf64_Ehdr sv_ehdr;
typedef Elf64_Phdr sv_phdr;
typedef Elf64_Shdr sv_shdr;
#define SV_ELFCLASS ELFCLASS64
#else
typedef Elf32_Ehdr sv_ehdr;
typedef Elf32_Phdr sv_phdr;
typedef Elf32_Shdr sv_shdr;
#define SV_ELFCLASS ELFCLASS32
#endif

#if defined(__x86_64__)
#define SV_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define SV_MACHINE EM_AARCH64
#else
#define SV_MACHINE EM_NONE
#endif

#define SV_MAX_HEADERS 4096
#define SV_SCRIPT_DEPTH 4

static bool read_at(int fd, void *buf, size_t len, off_t at)
{
	return pread(fd, buf, len, at) == (ssize_t)len;
}

static bool has_interp(int fd, const sv_ehdr *eh)
{
	sv_phdr ph;

	for (unsigned i = 0; i < eh->e_phnum && i < SV_MAX_HEADERS; i++) {
		if (!read_at(fd, &ph, sizeof(ph), (off_t)(eh->e_phoff + (off_t)i * eh->e_phentsize)))
			return true; /* unreadable: do not call it static */
		if (ph.p_type == PT_INTERP)
			return true;
	}
	return false;
}

static bool go_sections(int fd, const sv_ehdr *eh)
{
	sv_shdr sh, strsh;
	char name[32];

	if (eh->e_shnum == 0 || eh->e_shnum > SV_MAX_HEADERS || eh->e_shstrndx >= eh->e_shnum ||
	    eh->e_shentsize < sizeof(sv_shdr))
		return false;
	if (!read_at(fd, &strsh, sizeof(strsh),
		     (off_t)(eh->e_shoff + (off_t)eh->e_shstrndx * eh->e_shentsize)))
		return false;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (!read_at(fd, &sh, sizeof(sh), (off_t)(eh->e_shoff + (off_t)i * eh->e_shentsize)))
			return false;
		if (sh.sh_name >= strsh.sh_size)
			continue;
		ssize_t n = pread(fd, name, sizeof(name) - 1, (off_t)(strsh.sh_offset + sh.sh_name));
		if (n <= 0)
			continue;
		name[n] = '\0';
		if (strcmp(name, ".go.buildinfo") == 0 || strcmp(name, ".note.go.buildid") == 0)
			return true;
	}
	return false;
}

static bool probe(const char *path, struct sv_elf *out, int depth)
{
	sv_ehdr eh;
	char interp[PATH_MAX];
	bool ok = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (depth < SV_SCRIPT_DEPTH && probe_script_interp(fd, interp, sizeof(interp))) {
		ok = probe(interp, out, depth + 1);
		goto out;
	}
	if (!read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		goto out;
	out->elf = true;
	out->native = eh.e_ident[EI_CLASS] == SV_ELFCLASS && eh.e_machine == SV_MACHINE &&
		      eh.e_phentsize >= sizeof(sv_phdr);
	if (!out->native || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN))
		goto out;
	out->is_static = !has_interp(fd, &eh);
	out->is_go = go_sections(fd, &eh);
	ok = true;
out:
	close(fd);
	return ok;
}

bool sv_elf_probe(const char *path, struct sv_elf *out)
{
	memset(out, 0, sizeof(*out));
	return probe(path, out, 0);
}
