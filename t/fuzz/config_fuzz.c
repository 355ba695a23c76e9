/*
 * config_fuzz.c - libFuzzer harness for the config loader
 * (configure --enable-fuzz CC=clang; make fuzz).
 *
 * Each input is a grun.ini(5) file, read through fmemopen() by
 * sv_config_load_stream(), the loader grun and its reloads use.  A file
 * that loads is then selected (its first and last jobs, by name) and
 * printed both ways, as --check and --graph would.  Messages and output
 * go to /dev/null.  Crashes, sanitizer reports and leaks (ASan's
 * LeakSanitizer, after each input) fail the run.
 *
 * The loader reads what a file names: env_file, dir and the programs of
 * cmd are looked up on this machine, and ${VAR} comes from the
 * environment, so run it as an unprivileged user where it cannot reach
 * anything that matters.
 */
#include <stdint.h>
#include <stdio.h>

#include "supervise/config.h"
#include "supervise/config_internal.h"
#include "supervise/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		sv_fatal("config-fuzz: cannot open /dev/null");
	if (size == 0)
		return 0; /* fmemopen() refuses an empty buffer */
	FILE *in = fmemopen((void *)data, size, "r");
	if (!in)
		sv_fatal("config-fuzz: fmemopen of %zu bytes failed", size);
	struct sv_config *cfg = sv_config_load_stream(in, "fuzz.ini", devnull);
	fclose(in);
	if (!cfg)
		return 0;
	if (cfg->njobs > 0) {
		char *names[2] = { cfg->jobs[0].name, cfg->jobs[cfg->njobs - 1].name };
		sv_config_select(cfg, names, 2, devnull);
	}
	sv_graph_print(cfg, devnull, 0);
	sv_graph_print(cfg, devnull, 1);
	sv_config_free(cfg);
	return 0;
}
