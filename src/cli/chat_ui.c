/*
 * chat_ui.c - the terminal of `ambient chat` (see chat_ui.h) on libedit.
 *
 * The line editor reads its characters through ui_getc, which waits on
 * stdin and a self-pipe at once.  The pipe is written by the signal
 * handlers and by threads that print or wake; ui_getc then prints the
 * waiting text above the prompt (moving up over the rows the prompt and the
 * typed text take, clearing them, printing, and asking libedit to draw the
 * line again with EL_REFRESH), or leaves el_gets when it was asked to.
 */
#define _GNU_SOURCE
#include "chat_ui.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"

#define DEFAULT_PROMPT "ambient> "
#define PENDING_MAX (4u << 20)

struct chat_ui {
	bool interactive;
	char *prompt;
	char *history_file;
	EditLine *el;
	History *hist;
	int pipe[2];

	pthread_mutex_t mu; /* output, pending, reading, at_bol */
	bool reading;       /* the main thread is in el_gets */
	bool at_bol;        /* the output cursor is at the start of a line */
	struct buf pending; /* text to print above the prompt */
	atomic_bool wake;   /* chat_ui_wake() was called */
	int why;            /* why ui_getc left el_gets */

	struct buf in; /* piped input not yet returned */
	bool in_eof, in_skip;

	struct sigaction old_int, old_term, old_hup, old_winch, old_cont;
};

static volatile sig_atomic_t sig_int, sig_quit, sig_winch, sig_cont;
static int wake_fd = -1;

static void poke(int fd)
{
	if (fd >= 0) {
		ssize_t r = write(fd, "x", 1);
		(void)r; /* a full pipe already wakes the reader */
	}
}

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGINT)
		sig_int = 1;
	else if (sig == SIGWINCH)
		sig_winch = 1;
	else if (sig == SIGCONT)
		sig_cont = 1;
	else
		sig_quit = 1;
	poke(wake_fd);
	errno = saved;
}

static void drain(int fd)
{
	char b[256];
	while (read(fd, b, sizeof b) > 0)
		;
}

size_t chat_ui_width(struct chat_ui *u)
{
	struct winsize ws;
	(void)u;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return isatty(STDOUT_FILENO) ? 80 : 240; /* a pipe or a file: cut less */
}

bool chat_ui_interactive(const struct chat_ui *u)
{
	return u->interactive;
}

/* Code points in [s, end). */
static size_t cps(const char *s, const char *end)
{
	size_t n = 0;
	for (; s < end && *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* ---- output ----------------------------------------------------------------------- */

static void put_locked(struct chat_ui *u, const char *text, size_t len)
{
	if (!len)
		return;
	fwrite(text, 1, len, stdout);
	u->at_bol = text[len - 1] == '\n';
	fflush(stdout);
}

void chat_ui_print(struct chat_ui *u, const char *text)
{
	size_t n = strlen(text);
	bool nl = n && text[n - 1] == '\n';
	pthread_mutex_lock(&u->mu);
	if (u->interactive && u->reading) {
		if (buf_append(&u->pending, text, n) || (!nl && buf_append(&u->pending, "\n", 1)))
			log_warn("chat: too much output waiting for the prompt; some was dropped");
		pthread_mutex_unlock(&u->mu);
		poke(u->pipe[1]);
		return;
	}
	if (!u->at_bol)
		put_locked(u, "\n", 1);
	put_locked(u, text, n);
	if (!nl)
		put_locked(u, "\n", 1);
	pthread_mutex_unlock(&u->mu);
}

void chat_ui_write(struct chat_ui *u, const char *text, size_t len)
{
	pthread_mutex_lock(&u->mu);
	if (u->interactive && u->reading) {
		buf_append(&u->pending, text, len);
		pthread_mutex_unlock(&u->mu);
		poke(u->pipe[1]);
		return;
	}
	put_locked(u, text, len);
	pthread_mutex_unlock(&u->mu);
}

void chat_ui_end_line(struct chat_ui *u)
{
	pthread_mutex_lock(&u->mu);
	if (!u->at_bol && !(u->interactive && u->reading))
		put_locked(u, "\n", 1);
	pthread_mutex_unlock(&u->mu);
}

void chat_ui_wake(struct chat_ui *u)
{
	atomic_store(&u->wake, true);
	poke(u->pipe[1]);
}

bool chat_ui_interrupted(struct chat_ui *u)
{
	(void)u;
	return sig_int != 0;
}

void chat_ui_clear_interrupt(struct chat_ui *u)
{
	(void)u;
	sig_int = 0;
}

bool chat_ui_quit_requested(struct chat_ui *u)
{
	(void)u;
	return sig_quit != 0;
}

/* ---- the line editor ------------------------------------------------------------- */

static char *prompt_fn(EditLine *el)
{
	struct chat_ui *u = NULL;
	el_get(el, EL_CLIENTDATA, &u);
	return u ? u->prompt : DEFAULT_PROMPT;
}

/* Print the waiting text above the prompt and redraw; handle resizes and
 * continues.  Main thread, inside el_gets. */
static void redraw(struct chat_ui *u)
{
	char *text = NULL;
	bool winch = sig_winch, cont = sig_cont;

	sig_winch = sig_cont = 0;
	pthread_mutex_lock(&u->mu);
	if (u->pending.len)
		text = buf_steal(&u->pending);
	pthread_mutex_unlock(&u->mu);
	if (cont) { /* the shell may have changed the terminal while we were stopped */
		el_set(u->el, EL_PREP_TERM, 0);
		el_set(u->el, EL_PREP_TERM, 1);
	}
	if (winch)
		el_resize(u->el);
	if (text) {
		const LineInfo *li = el_line(u->el);
		size_t before = strlen(u->prompt) + cps(li->buffer, li->cursor);
		size_t up = before / chat_ui_width(u);
		if (up)
			printf("\033[%zuA", up);
		fputs("\r\033[J", stdout);
		fputs(text, stdout);
		fflush(stdout);
		free(text);
	}
	if (text || winch || cont)
		el_set(u->el, EL_REFRESH);
}

static int ui_getc(EditLine *el, wchar_t *wc)
{
	struct chat_ui *u = NULL;
	char bytes[MB_LEN_MAX];
	size_t nb = 0;

	el_get(el, EL_CLIENTDATA, &u);
	for (;;) {
		if (nb == 0) {
			redraw(u);
			if (sig_int) {
				sig_int = 0;
				u->why = CHAT_UI_INTERRUPT;
				errno = EINTR;
				return -1;
			}
			if (sig_quit) {
				u->why = CHAT_UI_EOF;
				errno = EINTR;
				return -1;
			}
			const LineInfo *li = el_line(el);
			if (atomic_load(&u->wake) && li->lastchar == li->buffer) {
				atomic_store(&u->wake, false);
				u->why = CHAT_UI_WAKE;
				errno = EINTR;
				return -1;
			}
		}
		struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {u->pipe[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			u->why = CHAT_UI_EOF;
			return -1;
		}
		if (p[1].revents & POLLIN)
			drain(u->pipe[0]);
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t r = read(STDIN_FILENO, bytes + nb, 1);
		if (r == 0) {
			u->why = CHAT_UI_EOF;
			return 0;
		}
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			u->why = CHAT_UI_EOF;
			return -1;
		}
		nb++;
		mbstate_t st;
		memset(&st, 0, sizeof st);
		size_t rc = mbrtowc(wc, bytes, nb, &st);
		if (rc == (size_t)-2 && nb < sizeof bytes)
			continue; /* more bytes of this character */
		if (rc == (size_t)-1 || rc == (size_t)-2) {
			nb = 0; /* not a character in this locale: dropped */
			continue;
		}
		return 1;
	}
}

static void history_load(struct chat_ui *u)
{
	HistEvent ev;
	if (u->history_file && history(u->hist, &ev, H_LOAD, u->history_file) < 0)
		log_debug("chat: no history in %s yet", u->history_file);
}

void chat_ui_history_add(struct chat_ui *u, const char *line)
{
	HistEvent ev;
	if (!u->interactive || !line || !*line)
		return;
	history(u->hist, &ev, H_ENTER, line);
	if (u->history_file) {
		mode_t old = umask(077); /* what one types may be private */
		if (history(u->hist, &ev, H_SAVE, u->history_file) < 0)
			log_debug("chat: cannot save the history to %s", u->history_file);
		umask(old);
	}
}

static int read_interactive(struct chat_ui *u, char **line)
{
	char *p = NULL;
	sig_int = 0; /* a Ctrl-C meant for the command that just ended */
	pthread_mutex_lock(&u->mu);
	u->reading = true;
	if (u->pending.len)
		p = buf_steal(&u->pending);
	if (p) {
		if (!u->at_bol)
			put_locked(u, "\n", 1);
		put_locked(u, p, strlen(p));
	}
	pthread_mutex_unlock(&u->mu);
	free(p);
	if (atomic_exchange(&u->wake, false) || sig_quit) {
		pthread_mutex_lock(&u->mu);
		u->reading = false;
		pthread_mutex_unlock(&u->mu);
		return sig_quit ? CHAT_UI_EOF : CHAT_UI_WAKE;
	}
	u->why = CHAT_UI_LINE;
	int n = 0;
	const char *s = el_gets(u->el, &n);
	int why = u->why;
	if (!s || n <= 0) {
		if (why == CHAT_UI_WAKE)
			fputs("\r\033[K", stdout); /* the empty prompt goes */
		else if (why == CHAT_UI_INTERRUPT)
			fputs("^C\n", stdout);
		else
			fputs("\n", stdout);
		fflush(stdout);
		if (why == CHAT_UI_LINE)
			why = CHAT_UI_EOF;
		s = NULL;
	}
	pthread_mutex_lock(&u->mu);
	u->reading = false;
	u->at_bol = true;
	p = u->pending.len ? buf_steal(&u->pending) : NULL;
	if (p)
		put_locked(u, p, strlen(p));
	pthread_mutex_unlock(&u->mu);
	free(p);
	if (!s)
		return why;
	size_t len = strlen(s);
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	*line = xstrndup(s, len);
	return CHAT_UI_LINE;
}

/* ---- piped input ------------------------------------------------------------------ */

static int read_piped(struct chat_ui *u, char **line)
{
	for (;;) {
		const char *d = buf_str(&u->in);
		const char *nl = memchr(d, '\n', u->in.len);
		if (nl || (u->in_eof && u->in.len)) {
			size_t len = nl ? (size_t)(nl - d) : u->in.len;
			size_t take = len;
			if (take && d[take - 1] == '\r')
				take--;
			char *l = xstrndup(d, take);
			size_t rest = u->in.len - (nl ? len + 1 : len);
			memmove(u->in.data, d + (nl ? len + 1 : len), rest);
			u->in.len = rest;
			u->in.data[rest] = '\0';
			if (u->in_skip) { /* the tail of a line that was too long */
				u->in_skip = false;
				free(l);
				continue;
			}
			*line = l;
			return CHAT_UI_LINE;
		}
		if (u->in_eof || sig_quit)
			return CHAT_UI_EOF;
		if (atomic_exchange(&u->wake, false))
			return CHAT_UI_WAKE;
		struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {u->pipe[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return CHAT_UI_EOF;
		}
		if (p[1].revents & POLLIN)
			drain(u->pipe[0]);
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		char chunk[4096];
		ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			u->in_eof = true;
			continue;
		}
		if (buf_append(&u->in, chunk, (size_t)r)) {
			log_warn("chat: an input line is longer than %u bytes; it is skipped",
				 CHAT_UI_MAX_LINE);
			buf_reset(&u->in);
			u->in_skip = true;
		}
	}
}

int chat_ui_read(struct chat_ui *u, char **line)
{
	*line = NULL;
	return u->interactive ? read_interactive(u, line) : read_piped(u, line);
}

/* ---- lifecycle --------------------------------------------------------------------- */

static void set_handler(int sig, struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: poll() must see EINTR */
	sigaction(sig, &sa, old);
}

int chat_ui_new(const struct chat_ui_options *o, struct chat_ui **out, struct err *e)
{
	struct chat_ui *u = xcalloc(1, sizeof *u);
	*out = NULL;
	u->interactive = o->interactive;
	u->prompt = xstrdup(o->prompt ? o->prompt : DEFAULT_PROMPT);
	u->history_file = o->history_file ? xstrdup(o->history_file) : NULL;
	u->at_bol = true;
	pthread_mutex_init(&u->mu, NULL);
	buf_init(&u->pending, PENDING_MAX);
	buf_init(&u->in, CHAT_UI_MAX_LINE);
	if (pipe2(u->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		int rc = err_set(e, ERR_IO, "cannot create a pipe: %s", strerror(errno));
		pthread_mutex_destroy(&u->mu);
		buf_cleanup(&u->pending);
		buf_cleanup(&u->in);
		free(u->prompt);
		free(u->history_file);
		free(u);
		return rc;
	}
	sig_int = sig_quit = sig_winch = sig_cont = 0;
	wake_fd = u->pipe[1];
	if (u->interactive) {
		/* libedit decodes input by the locale's character set. */
		const char *loc = setlocale(LC_CTYPE, "");
		if (!loc || strcmp(loc, "C") == 0 || strcmp(loc, "POSIX") == 0)
			setlocale(LC_CTYPE, "C.UTF-8");
		u->hist = history_init();
		HistEvent ev;
		history(u->hist, &ev, H_SETSIZE, o->history_size > 0 ? o->history_size : 1000);
		history(u->hist, &ev, H_SETUNIQUE, 1);
		history_load(u);
		u->el = el_init("ambient", stdin, stdout, stderr);
		if (!u->el) {
			history_end(u->hist);
			u->interactive = false;
			log_warn("chat: the line editor could not start; reading plain lines");
		} else {
			el_set(u->el, EL_CLIENTDATA, u);
			el_set(u->el, EL_EDITOR, "emacs");
			el_set(u->el, EL_SIGNAL, 0);
			el_set(u->el, EL_HIST, history, u->hist);
			el_set(u->el, EL_PROMPT, prompt_fn);
			el_set(u->el, EL_GETCFN, ui_getc);
			el_source(u->el, NULL); /* ~/.editrc, as other libedit programs */
			set_handler(SIGINT, &u->old_int);
			set_handler(SIGWINCH, &u->old_winch);
			set_handler(SIGCONT, &u->old_cont);
		}
	}
	set_handler(SIGTERM, &u->old_term);
	set_handler(SIGHUP, &u->old_hup);
	*out = u;
	return ERR_OK;
}

void chat_ui_free(struct chat_ui *u)
{
	if (!u)
		return;
	if (u->el) {
		sigaction(SIGINT, &u->old_int, NULL);
		sigaction(SIGWINCH, &u->old_winch, NULL);
		sigaction(SIGCONT, &u->old_cont, NULL);
		el_end(u->el);
		history_end(u->hist);
	}
	sigaction(SIGTERM, &u->old_term, NULL);
	sigaction(SIGHUP, &u->old_hup, NULL);
	wake_fd = -1;
	pthread_mutex_lock(&u->mu);
	if (u->pending.len)
		put_locked(u, u->pending.data, u->pending.len);
	pthread_mutex_unlock(&u->mu);
	close(u->pipe[0]);
	close(u->pipe[1]);
	pthread_mutex_destroy(&u->mu);
	buf_cleanup(&u->pending);
	buf_cleanup(&u->in);
	free(u->prompt);
	free(u->history_file);
	free(u);
}
