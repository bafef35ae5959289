/* main.c - entry point of the single `ambient` binary. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
