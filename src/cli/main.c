/* main.c - entry point of the single `ambient` binary. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	cli_chat_short_options(argc, argv); /* `ambient chat -c TEXT` */
	return cli_main(argc, argv);
}
