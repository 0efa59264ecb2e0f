/* Unit tests for the launcher's pieces that the e2e suite cannot reach on this
 * machine: the ELF probe over hand-built ELF32/ELF64, little- and big-endian files
 * (no multilib toolchain needed), #! scripts, and the LD_PRELOAD / PATH helpers.
 * cli/probe.c and cli/env.c are compiled in directly; cli_warn is captured here. */
#include <elf.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

#include "../../cli/env.c"
#include "../../cli/probe.c"

bool cli_quiet;
static int warn_count;
static char warn_last[1024];

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(warn_last, sizeof(warn_last), fmt, ap);
	va_end(ap);
	warn_count++;
}

void cli_err(const char *fmt, ...)
{
	(void)fmt;
}

static char dir[] = "/tmp/sfy-cli-unit-XXXXXX";

/* ---- hand-built ELF files: offsets from the ELF spec, not from <elf.h> structs ---- */

struct elf_spec {
	int cls;     /* 32 or 64 */
	int big;     /* big-endian */
	uint16_t type, machine;
	int interp;  /* add a PT_INTERP program header */
	uint16_t phnum_override; /* 0: the real count */
	size_t truncate;         /* >0: file cut to this many bytes */
};

static void put(unsigned char *p, uint64_t v, int n, int big)
{
	for (int i = 0; i < n; i++)
		p[big ? n - 1 - i : i] = (unsigned char)(v >> (8 * i));
}

static const char *write_elf(const char *name, const struct elf_spec *s)
{
	static char path[256];
	unsigned char buf[512];
	int is64 = s->cls == 64;
	size_t ehsize = is64 ? 64 : 52, phentsize = is64 ? 56 : 32;
	uint16_t phnum = 2;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, "\177ELF", 4);
	buf[4] = is64 ? 2 : 1; /* EI_CLASS */
	buf[5] = s->big ? 2 : 1; /* EI_DATA */
	buf[6] = 1;
	put(buf + 16, s->type, 2, s->big);
	put(buf + 18, s->machine, 2, s->big);
	put(buf + 20, 1, 4, s->big);
	if (is64) {
		put(buf + 32, ehsize, 8, s->big); /* e_phoff */
		put(buf + 52, ehsize, 2, s->big);
		put(buf + 54, phentsize, 2, s->big);
		put(buf + 56, s->phnum_override ? s->phnum_override : phnum, 2, s->big);
	} else {
		put(buf + 28, ehsize, 4, s->big);
		put(buf + 40, ehsize, 2, s->big);
		put(buf + 42, phentsize, 2, s->big);
		put(buf + 44, s->phnum_override ? s->phnum_override : phnum, 2, s->big);
	}
	put(buf + ehsize, PT_LOAD, 4, s->big);
	put(buf + ehsize + phentsize, s->interp ? PT_INTERP : PT_NOTE, 4, s->big);
	size_t len = ehsize + 2 * phentsize;
	if (s->truncate)
		len = s->truncate;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		printf("# cannot write %s\n", path);
	close(fd);
	return path;
}

static int warnings_for(const char *path, const char *lib)
{
	warn_count = 0;
	warn_last[0] = '\0';
	probe_warn(path, lib);
	return warn_count;
}

static void test_probe(void)
{
	char lib[256];
	struct elf_spec s_lib = {64, 0, ET_DYN, EM_X86_64, 0, 0, 0};
	str_copy(lib, write_elf("lib.so", &s_lib), sizeof(lib));

	struct elf_spec dyn64 = {64, 0, ET_DYN, EM_X86_64, 1, 0, 0};
	is_int(warnings_for(write_elf("dyn64", &dyn64), lib), 0, "ELF64 LE with PT_INTERP: no warning");

	struct elf_spec exec64 = {64, 0, ET_EXEC, EM_X86_64, 1, 0, 0};
	is_int(warnings_for(write_elf("exec64", &exec64), lib), 0, "ELF64 ET_EXEC with PT_INTERP: none");

	struct elf_spec st64 = {64, 0, ET_EXEC, EM_X86_64, 0, 0, 0};
	is_int(warnings_for(write_elf("st64", &st64), lib), 1, "ELF64 LE without PT_INTERP: warned");
	ok(strstr(warn_last, "statically linked") != NULL, "... as statically linked");

	struct elf_spec spie = {64, 0, ET_DYN, EM_X86_64, 0, 0, 0};
	is_int(warnings_for(write_elf("static-pie", &spie), lib), 1, "static-pie (ET_DYN, no PT_INTERP): warned");

	struct elf_spec dyn32 = {32, 0, ET_EXEC, EM_386, 1, 0, 0};
	is_int(warnings_for(write_elf("dyn32", &dyn32), lib), 1, "ELF32 i386 dynamic vs ELF64 lib: warned");
	ok(strstr(warn_last, "another architecture") != NULL, "... as another architecture: %s", warn_last);

	struct elf_spec st32be = {32, 1, ET_EXEC, EM_MIPS, 0, 0, 0};
	is_int(warnings_for(write_elf("st32be", &st32be), lib), 1, "ELF32 big-endian static: warned");
	ok(strstr(warn_last, "statically linked") != NULL, "... as statically linked (BE headers read)");

	struct elf_spec dyn64be = {64, 1, ET_DYN, EM_PPC64, 1, 0, 0};
	is_int(warnings_for(write_elf("dyn64be", &dyn64be), lib), 1, "ELF64 big-endian dynamic ppc64: warned");
	ok(strstr(warn_last, "machine 21") != NULL, "... naming its machine: %s", warn_last);

	/* Without the library's header there is nothing to compare: only static counts. */
	is_int(warnings_for(write_elf("dyn32b", &dyn32), NULL), 0, "no library header: no arch warning");

	struct elf_spec rel = {64, 0, ET_REL, EM_X86_64, 0, 0, 0};
	is_int(warnings_for(write_elf("rel", &rel), lib), 0, "ET_REL object: not judged");

	struct elf_spec trunc = {64, 0, ET_EXEC, EM_X86_64, 0, 0, 40};
	is_int(warnings_for(write_elf("trunc", &trunc), lib), 0, "truncated header: not judged");

	struct elf_spec trunc_ph = {64, 0, ET_EXEC, EM_X86_64, 0, 0, 64 + 56 + 2};
	is_int(warnings_for(write_elf("truncph", &trunc_ph), lib), 0,
	       "program headers cut short: not judged");

	struct elf_spec xnum = {64, 0, ET_EXEC, EM_X86_64, 0, PN_XNUM, 0};
	is_int(warnings_for(write_elf("xnum", &xnum), lib), 0, "PN_XNUM: not judged");

	char path[300];
	snprintf(path, sizeof(path), "%s/notelf", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ok(fd >= 0 && write(fd, "hello world\n", 12) == 12, "wrote a text file");
	close(fd);
	is_int(warnings_for(path, lib), 0, "not ELF, not a script: nothing");

	/* A script is judged by its interpreter. */
	char script[512];
	snprintf(path, sizeof(path), "%s/script", dir);
	snprintf(script, sizeof(script), "#! %s/st64 -x\necho\n", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ok(fd >= 0 && write(fd, script, strlen(script)) == (ssize_t)strlen(script), "wrote a script");
	close(fd);
	is_int(warnings_for(path, lib), 1, "script with a static interpreter: warned");
	ok(strstr(warn_last, "st64") != NULL, "... naming the interpreter");

	/* A script that names itself: bounded, no endless recursion. */
	snprintf(script, sizeof(script), "#!%s/self\n", dir);
	snprintf(path, sizeof(path), "%s/self", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ok(fd >= 0 && write(fd, script, strlen(script)) == (ssize_t)strlen(script), "wrote a self script");
	close(fd);
	is_int(warnings_for(path, lib), 0, "self-referencing script: no warning, no loop");

	is_int(warnings_for("/nonexistent/file", lib), 0, "missing file: nothing (exec reports it)");
}

static void test_resolve(void)
{
	char out[512];
	setenv("PATH", "/nonexistent::/bin:/usr/bin", 1);
	ok(probe_resolve("sh", out, sizeof(out)) && strstr(out, "/sh") != NULL, "sh found on PATH: %s", out);
	ok(!probe_resolve("no-such-cmd-xyz", out, sizeof(out)), "missing command not found");
	ok(probe_resolve("./x", out, sizeof(out)) && strcmp(out, "./x") == 0, "a path is taken as is");
	ok(!probe_resolve("", out, sizeof(out)), "empty command not found");
	ok(!probe_resolve("sh", out, 4), "too small a buffer: not found, no overflow");
}

static void test_preload(void)
{
	char err[256];
	char *v;
	const char *lib = "/opt/s/libsocksify.so";

	v = env_preload_value(lib, NULL, err, sizeof(err));
	ok(v && strcmp(v, lib) == 0, "no LD_PRELOAD: just the library");
	free(v);
	v = env_preload_value(lib, "", err, sizeof(err));
	ok(v && strcmp(v, lib) == 0, "empty LD_PRELOAD: just the library");
	free(v);
	v = env_preload_value(lib, "/a.so:/b.so", err, sizeof(err));
	ok(v && strcmp(v, "/opt/s/libsocksify.so:/a.so:/b.so") == 0, "prepended, order kept: %s", v);
	free(v);
	v = env_preload_value(lib, "/a.so /b.so", err, sizeof(err));
	ok(v && strcmp(v, "/opt/s/libsocksify.so:/a.so:/b.so") == 0, "space separators: %s", v);
	free(v);
	v = env_preload_value(lib, "/a.so:/opt/s/libsocksify.so::/b.so", err, sizeof(err));
	ok(v && strcmp(v, "/opt/s/libsocksify.so:/a.so:/b.so") == 0, "not twice, empties dropped: %s", v);
	free(v);
	v = env_preload_value(lib, "/opt/s/libsocksify.so", err, sizeof(err));
	ok(v && strcmp(v, lib) == 0, "already there alone: unchanged");
	free(v);

	setenv("LD_PRELOAD", "/x/libsocksify.so:/a.so libsocksify.so", 1);
	ok(env_strip_library(), "strip: our library was there");
	ok(strcmp(getenv("LD_PRELOAD"), "/a.so") == 0, "strip leaves the others: %s", getenv("LD_PRELOAD"));
	ok(!env_strip_library(), "strip again: nothing to do");
	setenv("LD_PRELOAD", "/y/libsocksify.so", 1);
	ok(env_strip_library() && getenv("LD_PRELOAD") == NULL, "strip the only entry: unset");
	ok(!env_strip_library(), "strip with no LD_PRELOAD: nothing");

	ok(env_abs_path("/abs", err, sizeof(err), err, sizeof(err)) && strcmp(err, "/abs") == 0,
	   "absolute path kept");
	char out[512];
	ok(chdir("/") == 0 && env_abs_path("rel/x", out, sizeof(out), err, sizeof(err)) &&
		   strcmp(out, "/rel/x") == 0,
	   "relative to / : %s", out);
	ok(!env_abs_path("/a/very/long/path", out, 5, err, sizeof(err)), "too long: an error");
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_probe();
	test_resolve();
	test_preload();

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
