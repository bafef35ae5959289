/* main.c - entry point of the single `ambient` binary. */
#include "cli/cli.h"
#include "common/xalloc.h"

int main(int argc, char **argv)
{
	xalloc_tune_for_threads();
	cli_chat_short_options(argc, argv); /* `ambient chat -c TEXT` */
	return cli_main(argc, argv);
}
