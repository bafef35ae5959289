/*
 * diff.c - line diff (Myers with caps, multiset fallback) and SHA-256.
 *
 * Lines are interned into small integer ids (a 64-bit FNV-1a hash table
 * with byte comparison), so the diff itself compares integers.  Myers'
 * greedy algorithm keeps the furthest-reaching x of each diagonal for every
 * D, (D+1)^2 ints in all, and walks them back to recover the edit script.
 * Moves that would leave the edit grid are never taken, so the path is
 * always valid.
 */
#include "diff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/xalloc.h"
#include "match.h"

struct side {
	struct diff_line *lines;
	size_t n;
	uint32_t *ids;
};

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
			return false;
	return true;
}

/* Split into non-blank lines; returns true when lines were left out. */
static bool split(const char *t, size_t len, size_t max, struct side *s)
{
	size_t cap = 64, line = 0;
	bool cut = false;

	s->lines = xmalloc(cap * sizeof(*s->lines));
	s->n = 0;
	for (size_t i = 0; t && i < len;) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - t) : len, l = e - i;

		if (l && t[i + l - 1] == '\r')
			l--;
		if (!is_blank(t + i, l)) {
			if (s->n == max) {
				cut = true;
				break;
			}
			if (s->n == cap) {
				cap *= 2;
				s->lines = xrealloc(s->lines, cap * sizeof(*s->lines));
			}
			s->lines[s->n++] = (struct diff_line){t + i, l, line++};
		}
		i = e + 1;
	}
	return cut;
}

/* --- interning --------------------------------------------------------- */

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

struct interner {
	uint32_t *slots; /* id + 1, 0 = empty */
	size_t mask;
	const struct diff_line **by_id;
	uint64_t *hash_of;
	uint32_t n_ids;
};

static uint32_t intern(struct interner *in, const struct diff_line *l)
{
	uint64_t h = fnv1a(l->text, l->len);
	size_t i = (size_t)h & in->mask;

	for (;;) {
		uint32_t s = in->slots[i];

		if (!s)
			break;
		s--;
		if (in->hash_of[s] == h && in->by_id[s]->len == l->len &&
		    memcmp(in->by_id[s]->text, l->text, l->len) == 0)
			return s;
		i = (i + 1) & in->mask;
	}
	in->by_id[in->n_ids] = l;
	in->hash_of[in->n_ids] = h;
	in->slots[i] = in->n_ids + 1;
	return in->n_ids++;
}

static void intern_all(struct side *a, struct side *b, uint32_t *n_ids)
{
	struct interner in = {0};
	size_t total = a->n + b->n, cap = 16;

	while (cap < total * 2)
		cap *= 2;
	in.slots = xcalloc(cap, sizeof(uint32_t));
	in.mask = cap - 1;
	in.by_id = xmalloc((total ? total : 1) * sizeof(*in.by_id));
	in.hash_of = xmalloc((total ? total : 1) * sizeof(uint64_t));
	a->ids = xmalloc((a->n ? a->n : 1) * sizeof(uint32_t));
	b->ids = xmalloc((b->n ? b->n : 1) * sizeof(uint32_t));
	for (size_t i = 0; i < a->n; i++)
		a->ids[i] = intern(&in, &a->lines[i]);
	for (size_t i = 0; i < b->n; i++)
		b->ids[i] = intern(&in, &b->lines[i]);
	*n_ids = in.n_ids;
	free(in.slots);
	free(in.by_id);
	free(in.hash_of);
}

/* --- Myers ------------------------------------------------------------- */

/* The furthest x on diagonal k at step d comes from diagonal k+1 (down:
 * an insertion) or k-1 (right: a deletion) of step d-1; prev[] is step
 * d-1's row, indexed k + (d-1).  Returns the x before the snake, or -1
 * when no move stays on the grid; *down says which move. */
static int32_t step_from(const int32_t *prev, int32_t d, int32_t k, int32_t n, int32_t m,
			 bool *down)
{
	int32_t xd = -1, xr = -1;

	if (k + 1 <= d - 1 && prev[k + 1 + d - 1] >= 0 && prev[k + 1 + d - 1] - k <= m)
		xd = prev[k + 1 + d - 1];
	if (k - 1 >= -(d - 1) && prev[k - 1 + d - 1] >= 0 && prev[k - 1 + d - 1] + 1 <= n)
		xr = prev[k - 1 + d - 1] + 1;
	if (xr > xd) {
		*down = false;
		return xr;
	}
	*down = true;
	return xd;
}

/* Diff a[0..n) against b[0..m) (n, m > 0).  On success marks del[i] for
 * removed a[i] and ins[j] for added b[j] and returns true; false when the
 * edit distance or the work passes the caps. */
static bool myers(const uint32_t *a, int32_t n, const uint32_t *b, int32_t m, size_t max_d,
		  size_t max_cost, bool *del, bool *ins)
{
	int32_t *hist = NULL, x, y, dfound = -1;
	size_t cap = 0, cost = 0;

	if ((size_t)n + (size_t)m < max_d)
		max_d = (size_t)n + (size_t)m;
	for (int32_t d = 0; d <= (int32_t)max_d && dfound < 0; d++) {
		size_t need = (size_t)(d + 1) * (size_t)(d + 1);
		int32_t *row, *prev;

		if (need > cap) {
			cap = need * 2;
			if (cap > (max_d + 1) * (max_d + 1))
				cap = (max_d + 1) * (max_d + 1);
			hist = xrealloc(hist, cap * sizeof(int32_t));
		}
		row = hist + (size_t)d * (size_t)d;
		prev = d ? hist + (size_t)(d - 1) * (size_t)(d - 1) : NULL;
		for (int32_t k = -d; k <= d; k += 2) {
			bool down;

			if (d == 0) {
				x = 0;
			} else {
				x = step_from(prev, d, k, n, m, &down);
				if (x < 0) {
					row[k + d] = -1;
					continue;
				}
			}
			y = x - k;
			if (y < 0 || y > m) {
				row[k + d] = -1;
				continue;
			}
			while (x < n && y < m && a[x] == b[y])
				x++, y++, cost++;
			row[k + d] = x;
			cost++;
			if (x >= n && y >= m) {
				dfound = d;
				break;
			}
		}
		if (cost > max_cost)
			break;
	}
	if (dfound < 0) {
		free(hist);
		return false;
	}
	x = n, y = m;
	for (int32_t d = dfound; d > 0; d--) {
		const int32_t *prev = hist + (size_t)(d - 1) * (size_t)(d - 1);
		int32_t k = x - y, px;
		bool down;

		px = step_from(prev, d, k, n, m, &down);
		/* px is where the snake of (d, k) started; the move before it: */
		if (down) {
			ins[px - (k + 1)] = true; /* b[px - k - 1] */
			x = px, y = px - (k + 1);
		} else {
			del[px - 1] = true;
			x = px - 1, y = px - 1 - (k - 1);
		}
	}
	free(hist);
	return true;
}

/* --- result ------------------------------------------------------------ */

static void collect(const struct side *s, size_t lo, size_t hi, const bool *mark, size_t max,
		    struct diff_line **out, size_t *n, size_t *total)
{
	if (max > hi - lo)
		max = hi - lo;
	*out = xmalloc((max ? max : 1) * sizeof(**out));
	*n = *total = 0;
	for (size_t i = lo; i < hi; i++) {
		if (!mark[i - lo])
			continue;
		if (*n < max)
			(*out)[(*n)++] = s->lines[i];
		(*total)++;
	}
}

/* Lines of x[lo..hi) whose ids y[ylo..yhi) does not have as many times. */
static void multiset(const struct side *x, size_t lo, size_t hi, const struct side *y, size_t ylo,
		     size_t yhi, uint32_t n_ids, bool *mark)
{
	uint32_t *count = xcalloc(n_ids ? n_ids : 1, sizeof(uint32_t));

	for (size_t j = ylo; j < yhi; j++)
		count[y->ids[j]]++;
	for (size_t i = lo; i < hi; i++) {
		if (count[x->ids[i]])
			count[x->ids[i]]--;
		else
			mark[i - lo] = true;
	}
	free(count);
}

void diff_lines(const char *old, size_t old_len, const char *new_text, size_t new_len,
		const struct diff_opts *o, struct diff_result *out)
{
	struct diff_opts d = o ? *o : (struct diff_opts){0};
	struct side a, b;
	size_t pre = 0, suf = 0, na, nb;
	uint32_t n_ids;
	bool *del, *ins;

	if (!d.max_lines)
		d.max_lines = DIFF_MAX_LINES;
	if (!d.max_edits)
		d.max_edits = DIFF_MAX_EDITS;
	if (!d.max_cost)
		d.max_cost = DIFF_MAX_COST;
	if (!d.max_out)
		d.max_out = DIFF_MAX_OUT;
	if (d.max_lines > INT32_MAX / 4)
		d.max_lines = INT32_MAX / 4;
	if (d.max_edits > 1u << 14) /* (2^14)^2 ints = 1 GiB: no */
		d.max_edits = 1u << 14;
	memset(out, 0, sizeof(*out));
	out->truncated = split(old, old_len, d.max_lines, &a);
	out->truncated |= split(new_text, new_len, d.max_lines, &b);
	intern_all(&a, &b, &n_ids);

	while (pre < a.n && pre < b.n && a.ids[pre] == b.ids[pre])
		pre++;
	while (suf < a.n - pre && suf < b.n - pre && a.ids[a.n - 1 - suf] == b.ids[b.n - 1 - suf])
		suf++;
	na = a.n - pre - suf;
	nb = b.n - pre - suf;
	del = xcalloc(na + 1, sizeof(bool));
	ins = xcalloc(nb + 1, sizeof(bool));
	if (na == 0 || nb == 0) {
		memset(del, 1, na);
		memset(ins, 1, nb);
	} else if (!myers(a.ids + pre, (int32_t)na, b.ids + pre, (int32_t)nb, d.max_edits,
			  d.max_cost, del, ins)) {
		out->approximate = true;
		memset(del, 0, na);
		memset(ins, 0, nb);
		multiset(&a, pre, pre + na, &b, pre, pre + nb, n_ids, del);
		multiset(&b, pre, pre + nb, &a, pre, pre + na, n_ids, ins);
	}
	collect(&b, pre, pre + nb, ins, d.max_out, &out->added, &out->n_added, &out->total_added);
	collect(&a, pre, pre + na, del, d.max_out, &out->removed, &out->n_removed,
		&out->total_removed);
	if (out->n_added < out->total_added || out->n_removed < out->total_removed)
		out->truncated = true;
	free(del);
	free(ins);
	free(a.lines);
	free(a.ids);
	free(b.lines);
	free(b.ids);
}

void diff_result_cleanup(struct diff_result *r)
{
	if (!r)
		return;
	free(r->added);
	free(r->removed);
	memset(r, 0, sizeof(*r));
}

char *diff_join(const struct diff_line *lines, size_t n, size_t max_bytes)
{
	size_t len = 0, total = 0;
	char *s;

	for (size_t i = 0; i < n && total <= max_bytes; i++)
		total += lines[i].len + 1;
	s = xmalloc((total < max_bytes ? total : max_bytes) + 1);
	for (size_t i = 0; i < n; i++) {
		size_t add = lines[i].len + (i ? 1 : 0);

		if (len + add > max_bytes) {
			if (i == 0) {
				len = match_utf8_cut(lines[0].text, lines[0].len, max_bytes);
				memcpy(s, lines[0].text, len);
			}
			break;
		}
		if (i)
			s[len++] = '\n';
		memcpy(s + len, lines[i].text, lines[i].len);
		len += lines[i].len;
	}
	s[len] = '\0';
	return s;
}

void diff_hash(const void *p, size_t n, char out[DIFF_HASH_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(p ? p : "", n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		memset(md, 0, sizeof(md)); /* only on a broken libcrypto */
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}
