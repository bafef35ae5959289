/*
 * chat_ui.h - the terminal of `ambient chat`: reading lines (libedit with
 * history when stdin and stdout are a terminal, plain lines from a pipe
 * otherwise) and writing output that other threads may add at any time.
 *
 * While the person is at the prompt, text printed by any thread appears
 * above the prompt and the prompt is drawn again with what was typed so
 * far.  While a command runs, text is printed in the flow, on a line of its
 * own.  chat_ui_wake() makes chat_ui_read() return CHAT_UI_WAKE so the main
 * thread can do work (ask the agent about an event); at the prompt this
 * happens only while the line is empty, so typing is never cut off.
 *
 * Signals (interactive): Ctrl-C at the prompt discards the line
 * (CHAT_UI_INTERRUPT); during a command it sets the flag chat_ui_interrupted()
 * reports.  SIGTERM and SIGHUP end chat_ui_read() with CHAT_UI_EOF.
 * SIGWINCH and SIGCONT redraw.  One chat_ui per process.
 *
 * Threads: chat_ui_print, chat_ui_write, chat_ui_end_line and chat_ui_wake
 * from any thread; the rest from the main thread.
 */
#ifndef AMBIENT_CLI_CHAT_UI_H
#define AMBIENT_CLI_CHAT_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

enum chat_ui_read_result { CHAT_UI_LINE, CHAT_UI_EOF, CHAT_UI_WAKE, CHAT_UI_INTERRUPT };

#define CHAT_UI_MAX_LINE (64u << 10) /* a longer piped line is cut */

struct chat_ui_options {
	bool interactive;         /* libedit on the terminal */
	const char *prompt;       /* interactive only; default "ambient> " */
	const char *history_file; /* interactive only; NULL: no history file */
	int history_size;         /* 0: 1000 */
};

struct chat_ui;

/* CONSTRUCTOR.  ERR_IO when the terminal cannot be set up. */
int chat_ui_new(const struct chat_ui_options *o, struct chat_ui **out, struct err *e);
/* DESTRUCTOR: restores the terminal and the signal handlers.  NULL is fine. */
void chat_ui_free(struct chat_ui *u);

/* The next line (*line: heap, without its newline) or why there is none. */
int chat_ui_read(struct chat_ui *u, char **line);
/* Add a line to the history (and save the history file). */
void chat_ui_history_add(struct chat_ui *u, const char *line);

/* A block of text (a newline is added when missing). */
void chat_ui_print(struct chat_ui *u, const char *text);
/* Streamed text as it comes (no newline added). */
void chat_ui_write(struct chat_ui *u, const char *text, size_t len);
/* End the current output line, if text was written on it. */
void chat_ui_end_line(struct chat_ui *u);
/* Ask the main thread to come back from chat_ui_read (CHAT_UI_WAKE). */
void chat_ui_wake(struct chat_ui *u);

/* Ctrl-C since the last chat_ui_clear_interrupt() (interactive only). */
bool chat_ui_interrupted(struct chat_ui *u);
void chat_ui_clear_interrupt(struct chat_ui *u);
/* SIGTERM or SIGHUP arrived. */
bool chat_ui_quit_requested(struct chat_ui *u);
/* Output columns (80 when unknown; 240 when stdout is not a terminal). */
size_t chat_ui_width(struct chat_ui *u);
bool chat_ui_interactive(const struct chat_ui *u);

#endif
