/* Which programs the supervisor takes: no PT_INTERP (statically linked: no loader to
 * preload anything) or built by Go (its net package makes the system calls itself,
 * even when dynamically linked). Go leaves a section named .go.buildinfo (the module
 * and build settings, kept by strip) and .note.go.buildid; either one is enough.
 * Only our own ELF class and byte order are read: the filter knows only our system
 * call numbers, and another architecture is refused there anyway. */
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
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

#define SV_TABLE_MAX (1u << 20) /* a header table bigger than this is no program's */

/* The table of n entries of size entsize at off, read with one pread into a buffer of
 * ours (NULL when it is over SV_MAX_HEADERS entries or SV_TABLE_MAX bytes, or cannot
 * be read whole). */
static unsigned char *read_table(int fd, uint64_t off, unsigned n, unsigned entsize)
{
	size_t len = (size_t)n * entsize;
	unsigned char *t;

	if (n == 0 || n > SV_MAX_HEADERS || entsize == 0 || len > SV_TABLE_MAX ||
	    (t = malloc(len)) == NULL)
		return NULL;
	if (!read_at(fd, t, len, (off_t)off)) {
		free(t);
		return NULL;
	}
	return t;
}

static bool has_interp(int fd, const sv_ehdr *eh)
{
	unsigned char *t = read_table(fd, eh->e_phoff, eh->e_phnum, eh->e_phentsize);
	bool found = t == NULL && eh->e_phnum != 0; /* unreadable: do not call it static */

	for (unsigned i = 0; t != NULL && i < eh->e_phnum && !found; i++) {
		sv_phdr ph;
		memcpy(&ph, t + (size_t)i * eh->e_phentsize, sizeof(ph));
		found = ph.p_type == PT_INTERP;
	}
	free(t);
	return found;
}

/* Section names are read from the string table in one piece when it is no bigger
 * than this (every ordinary program's is a few hundred bytes); else one by one. */
#define SV_SHSTR_MAX 65536

static bool go_sections(int fd, const sv_ehdr *eh)
{
	static const char *const go[] = { ".go.buildinfo", ".note.go.buildid" };
	unsigned char *t;
	char *names = NULL, one[32];
	sv_shdr sh, strsh;
	bool found = false;

	if (eh->e_shnum == 0 || eh->e_shnum > SV_MAX_HEADERS || eh->e_shstrndx >= eh->e_shnum ||
	    eh->e_shentsize < sizeof(sv_shdr))
		return false;
	t = read_table(fd, eh->e_shoff, eh->e_shnum, eh->e_shentsize);
	if (t == NULL)
		return false;
	memcpy(&strsh, t + (size_t)eh->e_shstrndx * eh->e_shentsize, sizeof(strsh));
	if (strsh.sh_size > 0 && strsh.sh_size <= SV_SHSTR_MAX &&
	    (names = malloc(strsh.sh_size + 1)) != NULL) {
		if (read_at(fd, names, strsh.sh_size, (off_t)strsh.sh_offset)) {
			names[strsh.sh_size] = '\0';
		} else {
			free(names);
			names = NULL;
		}
	}
	for (unsigned i = 0; i < eh->e_shnum && !found; i++) {
		const char *name = one;
		memcpy(&sh, t + (size_t)i * eh->e_shentsize, sizeof(sh));
		if (sh.sh_name >= strsh.sh_size)
			continue;
		if (names != NULL) {
			name = names + sh.sh_name;
		} else {
			ssize_t n = pread(fd, one, sizeof(one) - 1,
					  (off_t)(strsh.sh_offset + sh.sh_name));
			if (n <= 0)
				continue;
			one[n] = '\0';
		}
		for (size_t k = 0; k < sizeof(go) / sizeof(go[0]); k++)
			found = found || strcmp(name, go[k]) == 0;
	}
	free(names);
	free(t);
	return found;
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
