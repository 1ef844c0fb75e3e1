// Multi-literal scan for the matcher's prefilter (src/match/scanner.ts): in one pass over a
// chunk, the offset of the first occurrence of any literal in each line that holds one.
//
// Why native: RE2 over the alternation of the literals (the JavaScript path) runs at about
// 0.6 GB/s per core, and that pass was half of a worker's time on a quiet web server's log
// with five jails. Here each literal is reduced to two of its bytes, the pair that is rarest
// together in a sample of the log, and 64 positions are tested a step with AVX2 (32 with
// SSE2); only where both bytes sit at the right distance is the whole literal compared.
// Measured on scenario c's log (14 literals): about 2.2 GB/s per core with AVX2 (RE2: 0.63 GB/s).
// For 2 to 32 literals with AVX2, the bucket scan (Buckets, below) does the same at about
// 11 GB/s, whatever their number. walkLines also walks the lines, so that JavaScript visits only
// those holding a literal.
//
// Case-insensitive literals fold ASCII letters only; the caller (scanner.ts) never gives this
// scanner a literal RE2 would fold differently (non-ASCII bytes, k or s: Kelvin sign, long s).
// Plain N-API C (node_api.h) so it needs no npm package to build.

#define NAPI_VERSION 8
#include <node_api.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LB_X86 1
#endif

#define MAX_LITERALS 256
/** anchors are chosen among a literal's first bytes, so every load stays within this reach */
#define ANCHOR_REACH 16
/** sample bytes used to choose the anchor pairs */
#define SAMPLE_MAX (64 * 1024)

typedef struct {
	uint8_t *text;
	uint32_t len;
	uint8_t fold; // compare ASCII letters case-insensitively
	uint16_t a1, a2; // indexes into anchors[]
	uint32_t gram; // offset of its two adjacent bytes that the bucket scan looks for
} Literal;

typedef struct {
	uint8_t offset;
	uint8_t byte; // lower case when fold
	uint8_t fold;
} Anchor;

/** What the vector loop reads per literal, flat: its two anchors' offsets and their bytes
 * repeated across a vector (so no broadcast in the loop; read with unaligned loads, calloc
 * promises no 32-byte alignment); fold: OR 0x20 before comparing. */
typedef struct {
	uint8_t b1[32];
	uint8_t b2[32];
	uint32_t o1, o2;
	uint8_t f1, f2;
} Pair;

/** Literals the bucket scan takes at most (more crowd its eight buckets: the pair scan then) */
#define MAX_BUCKETED 32
#define BUCKETS 8

/** The bucket scan's tables (after Hyperscan's "Teddy"): each literal is known by two adjacent
 * bytes (its rarest such pair in the sample) and put in one of eight buckets. A 16-entry
 * table per nibble of each of the two bytes gives, by one shuffle, the buckets whose literals
 * may have that nibble there; AND-ing the four shuffles leaves, per position, the buckets
 * whose pair may start there. Fourteen literals cost about as much as one. */
typedef struct {
	uint8_t lo0[32], hi0[32], lo1[32], hi1[32]; // both 16-byte lanes alike (vpshufb is per lane)
	uint16_t lits[BUCKETS][MAX_BUCKETED];
	uint8_t nlits[BUCKETS];
	uint32_t max_gram; // the largest literal offset of a pair: how far back a hit's literal starts
} Buckets;

typedef struct {
	Buckets buckets;
	uint8_t bucketed; // the bucket scan applies (AVX2, 2 to MAX_BUCKETED literals of 2+ bytes; for one, the pair scan is faster: 7.8 ms per 200 MB against 12)
	Pair pairs[MAX_LITERALS];
	Literal lits[MAX_LITERALS];
	uint32_t nlits;
	Anchor anchors[2 * MAX_LITERALS];
	uint32_t nanchors;
	/** widest vectors to use: 2 AVX2 if the CPU has it, 1 SSE2, 0 none (tests force each) */
	uint8_t vectors;
} Scanner;

/** The scanner may use AVX2 (its vectors setting allows it and this CPU has it). */
static int uses_avx2(const Scanner *s)
{
#ifdef LB_X86
	return s->vectors >= 2 && __builtin_cpu_supports("avx2");
#else
	(void)s;
	return 0;
#endif
}

static inline uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
}

static inline int same(uint8_t hay, uint8_t lit, int fold)
{
	return fold ? lower(hay) == lit : hay == lit;
}

static int literal_at(const Literal *l, const uint8_t *p)
{
	if (!l->fold) return memcmp(p, l->text, l->len) == 0;
	for (uint32_t i = 0; i < l->len; i++)
		if (lower(p[i]) != l->text[i]) return 0;
	return 1;
}

static uint16_t anchor_of(Scanner *s, uint8_t offset, uint8_t byte, uint8_t fold)
{
	// folding only matters for letters; one anchor serves every literal that shares it
	if (fold && lower(byte) == byte && !(byte >= 'a' && byte <= 'z')) fold = 0;
	for (uint32_t i = 0; i < s->nanchors; i++) {
		Anchor *a = &s->anchors[i];
		if (a->offset == offset && a->byte == byte && a->fold == fold) return (uint16_t)i;
	}
	s->anchors[s->nanchors] = (Anchor){ offset, byte, fold };
	return (uint16_t)s->nanchors++;
}

/** The two positions of the literal (among its first ANCHOR_REACH bytes) whose bytes occur
 * together, at that distance, least often in the sample. Exact counts, but only pairs that
 * include one of the three individually rarest bytes are tried (cheap: each is counted only
 * where that rare byte occurs). */
static void choose_pair(const Literal *l, const uint8_t *sample, size_t n, uint32_t *pi, uint32_t *pj)
{
	uint32_t reach = l->len < ANCHOR_REACH ? l->len : ANCHOR_REACH;
	*pi = 0;
	*pj = reach - 1;
	if (reach < 2 || n < l->len) return;
	size_t freq[256] = { 0 };
	for (size_t q = 0; q < n; q++) freq[l->fold ? lower(sample[q]) : sample[q]]++;
	uint32_t rare[3];
	uint32_t nrare = 0;
	for (uint32_t r = 0; r < 3 && r < reach; r++) {
		int best = -1;
		for (uint32_t i = 0; i < reach; i++) {
			int taken = 0;
			for (uint32_t k = 0; k < nrare; k++) taken |= rare[k] == i;
			if (!taken && (best < 0 || freq[l->text[i]] < freq[l->text[best]])) best = (int)i;
		}
		rare[nrare++] = (uint32_t)best;
	}
	size_t best = SIZE_MAX;
	for (uint32_t r = 0; r < nrare; r++) {
		uint32_t i = rare[r];
		uint8_t x = l->text[i];
		size_t count[ANCHOR_REACH] = { 0 };
		for (size_t q = 0; q + l->len <= n; q++) {
			if (!same(sample[q + i], x, l->fold)) continue;
			for (uint32_t j = 0; j < reach; j++) count[j] += same(sample[q + j], l->text[j], l->fold);
		}
		for (uint32_t j = 0; j < reach; j++) {
			if (j == i || count[j] >= best) continue;
			best = count[j];
			*pi = i < j ? i : j;
			*pj = i < j ? j : i;
		}
	}
}

/** The offset of the literal's two adjacent bytes seen together least often in the sample
 * (ties: the first). `grams` counts each byte pair of the sample (folded when the literal is). */
static uint32_t choose_gram(const Literal *l, const uint32_t *grams)
{
	uint32_t best = 0;
	// within the first 256 bytes: the pair doubles as the scalar tail's anchors (uint8_t offsets)
	for (uint32_t i = 1; i + 1 < l->len && i + 1 < 256; i++)
		if (grams[l->text[i] << 8 | l->text[i + 1]] < grams[l->text[best] << 8 | l->text[best + 1]]) best = i;
	return best;
}

static void count_grams(const uint8_t *sample, size_t n, int fold, uint32_t *grams)
{
	for (size_t q = 0; q + 1 < n; q++) {
		uint8_t a = fold ? lower(sample[q]) : sample[q], b = fold ? lower(sample[q + 1]) : sample[q + 1];
		grams[a << 8 | b]++;
	}
}

/** Bytes a literal's byte may be in the log: both cases of a folded ASCII letter. */
static int byte_forms(uint8_t c, int fold, uint8_t out[2])
{
	out[0] = c;
	if (fold && c >= 'a' && c <= 'z') {
		out[1] = (uint8_t)(c - 32);
		return 2;
	}
	return 1;
}

/** How many byte values a bucket's nibble tables let through at one position (the product of
 * its low and high nibble sets): what a new literal would make its false candidates cost. */
static uint32_t nibble_spread(const uint8_t *lo, const uint8_t *hi, uint8_t bit)
{
	uint32_t nl = 0, nh = 0;
	for (int i = 0; i < 16; i++) {
		nl += (lo[i] & bit) != 0;
		nh += (hi[i] & bit) != 0;
	}
	return nl * nh;
}

static void add_to_bucket(Buckets *b, const Literal *l, uint16_t k, int bucket)
{
	uint8_t bit = (uint8_t)(1u << bucket), f[2];
	int nf = byte_forms(l->text[l->gram], l->fold, f);
	for (int i = 0; i < nf; i++) {
		b->lo0[f[i] & 15] |= bit;
		b->hi0[f[i] >> 4] |= bit;
	}
	nf = byte_forms(l->text[l->gram + 1], l->fold, f);
	for (int i = 0; i < nf; i++) {
		b->lo1[f[i] & 15] |= bit;
		b->hi1[f[i] >> 4] |= bit;
	}
	b->lits[bucket][b->nlits[bucket]++] = k;
	if (l->gram > b->max_gram) b->max_gram = l->gram;
}

/** Each literal to the bucket whose tables it widens least (an empty bucket widens nothing). */
static void build_buckets(Scanner *s)
{
	Buckets *b = &s->buckets;
	for (uint32_t k = 0; k < s->nlits; k++) {
		const Literal *l = &s->lits[k];
		int best = 0;
		uint32_t best_cost = UINT32_MAX;
		for (int bucket = 0; bucket < BUCKETS; bucket++) {
			Buckets trial = *b;
			uint8_t bit = (uint8_t)(1u << bucket);
			uint32_t before = nibble_spread(b->lo0, b->hi0, bit) + nibble_spread(b->lo1, b->hi1, bit);
			add_to_bucket(&trial, l, (uint16_t)k, bucket);
			uint32_t cost = nibble_spread(trial.lo0, trial.hi0, bit) + nibble_spread(trial.lo1, trial.hi1, bit) - before;
			if (cost < best_cost || (cost == best_cost && b->nlits[bucket] < b->nlits[best])) {
				best = bucket;
				best_cost = cost;
			}
		}
		add_to_bucket(b, l, (uint16_t)k, best);
	}
	memcpy(b->lo0 + 16, b->lo0, 16);
	memcpy(b->hi0 + 16, b->hi0, 16);
	memcpy(b->lo1 + 16, b->lo1, 16);
	memcpy(b->hi1 + 16, b->hi1, 16);
}

typedef struct {
	int32_t *v;
	size_t n, cap;
} Hits;

static int push_hit(Hits *h, int32_t at)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 1024;
		int32_t *v = realloc(h->v, cap * sizeof *v);
		if (!v) return -1;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = at;
	return 0;
}

/** Literal starting at q, if any; -1 otherwise. */
static inline int match_at(const Scanner *s, const uint8_t *buf, size_t n, size_t q)
{
	for (uint32_t k = 0; k < s->nlits; k++) {
		const Literal *l = &s->lits[k];
		if (q + l->len <= n && literal_at(l, buf + q)) return (int)k;
	}
	return -1;
}

/** Records the hit at q and returns where scanning resumes: the start of the next line. */
static size_t record(Hits *h, const uint8_t *buf, size_t n, size_t q, int *err)
{
	if (push_hit(h, (int32_t)q) < 0) *err = 1;
	const uint8_t *nl = memchr(buf + q, '\n', n - q);
	return nl ? (size_t)(nl - buf) + 1 : n;
}

#ifdef LB_X86
/* One kernel, compiled for AVX2 (32 positions a step) and for SSE2 (16). */
#define SCAN_KERNEL(NAME, ATTR, VEC, WIDTH, LOADU, SET1, CMPEQ, AND, OR, ZERO, MOVEMASK)          \
	ATTR static size_t NAME(const Scanner *s, const uint8_t *buf, size_t n, size_t p, Hits *h, int *err) \
	{                                                                                        \
		const VEC case_bit = SET1(0x20);                                                 \
		/* two blocks a step: each literal's offsets and bytes are read once for both */     \
		while (p + 2 * WIDTH + ANCHOR_REACH <= n && !*err) {                             \
			VEC any0 = ZERO(), any1 = ZERO();                                        \
			for (uint32_t k = 0; k < s->nlits; k++) {                               \
				const Pair *pr = &s->pairs[k];                                   \
				const uint8_t *x = buf + p + pr->o1, *y = buf + p + pr->o2;      \
				VEC u0 = LOADU((const VEC *)x), u1 = LOADU((const VEC *)(x + WIDTH)); \
				VEC v0 = LOADU((const VEC *)y), v1 = LOADU((const VEC *)(y + WIDTH)); \
				if (pr->f1) {                                                    \
					u0 = OR(u0, case_bit);                                  \
					u1 = OR(u1, case_bit);                                  \
				}                                                                \
				if (pr->f2) {                                                    \
					v0 = OR(v0, case_bit);                                  \
					v1 = OR(v1, case_bit);                                  \
				}                                                                \
				const VEC b1 = LOADU((const VEC *)pr->b1), b2 = LOADU((const VEC *)pr->b2); \
				any0 = OR(any0, AND(CMPEQ(u0, b1), CMPEQ(v0, b2)));              \
				any1 = OR(any1, AND(CMPEQ(u1, b1), CMPEQ(v1, b2)));              \
			}                                                                        \
			uint64_t mask = (uint64_t)(uint32_t)MOVEMASK(any0) |                    \
				((uint64_t)(uint32_t)MOVEMASK(any1) << WIDTH);                 \
			size_t next = p + 2 * WIDTH;                                             \
			while (mask) {                                                           \
				size_t q = p + (size_t)__builtin_ctzll(mask);                    \
				mask &= mask - 1;                                                \
				if (match_at(s, buf, n, q) >= 0) {                               \
					next = record(h, buf, n, q, err);                        \
					break;                                                   \
				}                                                                \
			}                                                                        \
			p = next;                                                                \
		}                                                                                \
		return p;                                                                        \
	}

SCAN_KERNEL(scan_avx2, __attribute__((target("avx2"))), __m256i, 32, _mm256_loadu_si256, _mm256_set1_epi8,
	    _mm256_cmpeq_epi8, _mm256_and_si256, _mm256_or_si256, _mm256_setzero_si256, _mm256_movemask_epi8)
SCAN_KERNEL(scan_sse2, , __m128i, 16, _mm_loadu_si128, _mm_set1_epi8, _mm_cmpeq_epi8, _mm_and_si128,
	    _mm_or_si128, _mm_setzero_si128, _mm_movemask_epi8)

/** The first start of a literal before `found`, the start of the hit the bucket scan verified
 * first, at pair position `pos`; `found` if none. A literal starting earlier must have its pair
 * at or after `pos` (else the scan would have met it first), so each literal is tried only from
 * pos - its pair's offset: with every line a hit (sshd's twelve literals) trying every literal
 * at every one of the max_gram bytes before a hit was most of the scan. */
static size_t earliest_start(const Scanner *s, const uint8_t *buf, size_t n, size_t floor, size_t pos, size_t found)
{
	size_t best = found;
	for (uint32_t k = 0; k < s->nlits; k++) {
		const Literal *l = &s->lits[k];
		size_t q = pos > l->gram ? pos - l->gram : 0;
		if (q < floor) q = floor;
		for (; q < best; q++) {
			if (q + l->len <= n && literal_at(l, buf + q)) {
				best = q;
				break;
			}
		}
	}
	return best;
}

/** The bucket scan (see Buckets), 32 positions a step. A hit's literal may start up to
 * max_gram bytes before its pair, and an earlier literal of the same line may have its pair
 * later: the bytes before the first hit are checked for one, so each line reports its first
 * literal as the pair scan does. `floor`: where the line after the last hit starts; literals
 * starting before it belong to a line already reported. */
__attribute__((target("avx2"))) static size_t scan_buckets(const Scanner *s, const uint8_t *buf, size_t n, size_t p,
							    size_t *floor, Hits *h, int *err)
{
	const Buckets *b = &s->buckets;
	const __m256i nib = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
	const __m256i lo0 = _mm256_loadu_si256((const __m256i *)b->lo0), hi0 = _mm256_loadu_si256((const __m256i *)b->hi0);
	const __m256i lo1 = _mm256_loadu_si256((const __m256i *)b->lo1), hi1 = _mm256_loadu_si256((const __m256i *)b->hi1);
	while (p + 33 <= n && !*err) {
		const __m256i x = _mm256_loadu_si256((const __m256i *)(buf + p));
		const __m256i y = _mm256_loadu_si256((const __m256i *)(buf + p + 1));
		const __m256i mx = _mm256_and_si256(_mm256_shuffle_epi8(lo0, _mm256_and_si256(x, nib)),
						     _mm256_shuffle_epi8(hi0, _mm256_and_si256(_mm256_srli_epi16(x, 4), nib)));
		const __m256i my = _mm256_and_si256(_mm256_shuffle_epi8(lo1, _mm256_and_si256(y, nib)),
						     _mm256_shuffle_epi8(hi1, _mm256_and_si256(_mm256_srli_epi16(y, 4), nib)));
		const __m256i m = _mm256_and_si256(mx, my);
		uint32_t mask = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(m, zero));
		size_t next = p + 32;
		if (mask) {
			uint8_t bits[32];
			_mm256_storeu_si256((__m256i *)bits, m);
			size_t found = SIZE_MAX, found_pos = 0;
			while (mask && found == SIZE_MAX) {
				const uint32_t j = (uint32_t)__builtin_ctz(mask);
				mask &= mask - 1;
				const size_t pos = found_pos = p + j;
				for (uint32_t bb = bits[j]; bb; bb &= bb - 1) {
					const uint32_t bucket = (uint32_t)__builtin_ctz(bb);
					for (uint32_t i = 0; i < b->nlits[bucket]; i++) {
						const Literal *l = &s->lits[b->lits[bucket][i]];
						if (pos < l->gram) continue;
						const size_t start = pos - l->gram;
						if (start >= *floor && start < found && start + l->len <= n && literal_at(l, buf + start)) found = start;
					}
				}
			}
			if (found != SIZE_MAX) {
				found = earliest_start(s, buf, n, *floor, found_pos, found);
				next = record(h, buf, n, found, err);
				*floor = next;
			}
		}
		p = next;
	}
	return p;
}
#endif

/** Which scan a chunk gets: the one choice scan() acts on and kernel() reports. */
typedef enum { KERNEL_BYTES, KERNEL_SSE2_PAIRS, KERNEL_AVX2_PAIRS, KERNEL_BUCKETS } Kernel;

static Kernel kernel_of(const Scanner *s)
{
#ifdef LB_X86
	if (s->bucketed) return KERNEL_BUCKETS;
	if (uses_avx2(s)) return KERNEL_AVX2_PAIRS;
	if (s->vectors >= 1) return KERNEL_SSE2_PAIRS;
#endif
	return KERNEL_BYTES;
}

static void scan(const Scanner *s, const uint8_t *buf, size_t n, Hits *h, int *err)
{
	size_t p = 0;
#ifdef LB_X86
	switch (kernel_of(s)) {
	case KERNEL_BUCKETS: {
		size_t floor = 0;
		p = scan_buckets(s, buf, n, p, &floor, h, err);
		// literals that start before p but whose pair lies at or after it: not seen yet
		size_t back = p > s->buckets.max_gram ? p - s->buckets.max_gram : 0;
		p = back > floor ? back : floor;
		break;
	}
	case KERNEL_AVX2_PAIRS: p = scan_avx2(s, buf, n, p, h, err); break;
	case KERNEL_SSE2_PAIRS: p = scan_sse2(s, buf, n, p, h, err); break;
	case KERNEL_BYTES: break;
	}
#endif
	// the tail (and everything without x86 vectors): position by position
	while (p < n && !*err) {
		int found = 0;
		for (uint32_t k = 0; k < s->nlits && !found; k++) {
			const Literal *l = &s->lits[k];
			const Anchor *x = &s->anchors[l->a1], *y = &s->anchors[l->a2];
			found = p + l->len <= n && same(buf[p + x->offset], x->byte, x->fold) &&
				same(buf[p + y->offset], y->byte, y->fold) && literal_at(l, buf + p);
		}
		p = found ? record(h, buf, n, p, err) : p + 1;
	}
}

/** What walk() tells about a chunk besides its hit lines. */
typedef struct {
	int32_t lines; // all lines
	int32_t long_lines; // lines without a hit longer than max_len
	int32_t clean; // 1: every byte was seen to be ASCII and none NUL (0: not so, or not looked at)
} Walked;

/** One line ended at `eol` (its '\n', or n): a hit line if the next hit lies before eol. */
static inline int end_line(const Hits *h, size_t *hi, size_t start, size_t eol, size_t max_len, Hits *out, Walked *w)
{
	w->lines++;
	if (*hi < h->n && (size_t)h->v[*hi] < eol) {
		while (*hi < h->n && (size_t)h->v[*hi] < eol) (*hi)++;
		if (push_hit(out, w->lines) < 0 || push_hit(out, (int32_t)start) < 0 || push_hit(out, (int32_t)eol) < 0) return -1;
	} else if (eol - start > max_len) {
		w->long_lines++;
	}
	return 0;
}

/** walk() line by line with memchr, without AVX2. Leaves clean at 0. */
static int walk_memchr(const uint8_t *buf, size_t n, const Hits *h, size_t max_len, Hits *out, Walked *w)
{
	size_t pos = 0, hi = 0;
	while (pos < n) {
		const uint8_t *nl = memchr(buf + pos, '\n', n - pos);
		size_t eol = nl ? (size_t)(nl - buf) : n;
		if (end_line(h, &hi, pos, eol, max_len, out, w) < 0) return -1;
		pos = eol + 1;
	}
	return 0;
}

#ifdef LB_X86
/** walk() 64 bytes a step: the newlines of each block come as a bit mask, and the same loads
 * tell whether the chunk is plain ASCII without NUL, which spares the caller its own two passes
 * (NUL search and UTF-8 check) over the chunk. A block that ends no line holding a hit is
 * counted whole (its lines but the first are under 64 bytes, never too long when max_len is
 * 63 or more); only the others are walked newline by newline. Scenario c's log, per 200 MB
 * (walkLines less lineHits, medians of 7): the memchr walk 15.5 ms plus 10.9 ms for the
 * caller's checks; this, 32 bytes a step, 21 ms visiting every newline, 14 ms counting whole
 * blocks; 64 bytes a step, 10.5 ms. */
__attribute__((target("avx2,popcnt"))) static int walk_avx2(const uint8_t *buf, size_t n, const Hits *h, size_t max_len, Hits *out, Walked *w)
{
	const __m256i nl = _mm256_set1_epi8('\n'), zero = _mm256_setzero_si256();
	__m256i high = zero, nul = zero;
	size_t pos = 0, hi = 0, p = 0;
	const int whole_blocks = max_len >= 63;
	for (; p + 64 <= n; p += 64) {
		__m256i v0 = _mm256_loadu_si256((const __m256i *)(buf + p));
		__m256i v1 = _mm256_loadu_si256((const __m256i *)(buf + p + 32));
		high = _mm256_or_si256(high, _mm256_or_si256(v0, v1));
		nul = _mm256_or_si256(nul, _mm256_or_si256(_mm256_cmpeq_epi8(v0, zero), _mm256_cmpeq_epi8(v1, zero)));
		uint64_t m = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v0, nl)) |
			((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v1, nl)) << 32);
		if (!m) continue;
		if (whole_blocks && (hi >= h->n || (size_t)h->v[hi] >= p + 64)) {
			// no hit before this block's end: none of the lines it ends holds one
			if (p + (size_t)__builtin_ctzll(m) - pos > max_len) w->long_lines++;
			w->lines += __builtin_popcountll(m);
			pos = p + (size_t)(63 - __builtin_clzll(m)) + 1;
			continue;
		}
		while (m) {
			size_t eol = p + (size_t)__builtin_ctzll(m);
			m &= m - 1;
			if (end_line(h, &hi, pos, eol, max_len, out, w) < 0) return -1;
			pos = eol + 1;
		}
	}
	int clean = !_mm256_movemask_epi8(high) && !_mm256_movemask_epi8(nul);
	for (; p < n; p++) {
		clean &= buf[p] != 0 && buf[p] < 0x80;
		if (buf[p] == '\n') {
			if (end_line(h, &hi, pos, p, max_len, out, w) < 0) return -1;
			pos = p + 1;
		}
	}
	if (pos < n && end_line(h, &hi, pos, n, max_len, out, w) < 0) return -1;
	w->clean = clean;
	return 0;
}
#endif

/** The lines of a chunk around its hits: per line holding a hit, its number (from 1), start
 * and end (the offset of its '\n', or n), and the count of all lines and of lines without a hit
 * longer than max_len. Lines are what the JavaScript walk calls lines: each '\n' ends one, and
 * bytes after the last '\n' are one more. Why: on a quiet log, visiting every line in JavaScript
 * (indexOf per line) cost more than the scan itself (scenario c: 65 ms per 100 MB a worker). */
static int walk(const Scanner *s, const uint8_t *buf, size_t n, const Hits *h, size_t max_len, Hits *out, Walked *w)
{
#ifdef LB_X86
	if (uses_avx2(s)) return walk_avx2(buf, n, h, max_len, out, w);
#endif
	return walk_memchr(buf, n, h, max_len, out, w);
}

/* ---- N-API ---- */

#define CHECK(call)                                                           \
	do {                                                                  \
		if ((call) != napi_ok) {                                      \
			napi_throw_error(env, NULL, "logban_scan: bad arguments: " #call); \
			return NULL;                                          \
		}                                                             \
	} while (0)

static void free_scanner(napi_env env, void *data, void *hint)
{
	Scanner *s = data;
	for (uint32_t k = 0; k < s->nlits; k++) free(s->lits[k].text);
	free(s);
}

/** create(literals: Buffer[], caseInsensitive: boolean[], sample: Buffer, vectors = 2) -> external */
static napi_value create(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value argv[4];
	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 3) {
		napi_throw_type_error(env, NULL, "logban_scan.create(literals, caseInsensitive, sample)");
		return NULL;
	}
	uint32_t n = 0;
	CHECK(napi_get_array_length(env, argv[0], &n));
	if (n == 0 || n > MAX_LITERALS) {
		napi_throw_range_error(env, NULL, "logban_scan.create: 1 to 256 literals");
		return NULL;
	}
	void *sample = NULL;
	size_t sample_len = 0;
	CHECK(napi_get_buffer_info(env, argv[2], &sample, &sample_len));
	if (sample_len > SAMPLE_MAX) sample_len = SAMPLE_MAX;
	Scanner *s = calloc(1, sizeof *s);
	if (!s) {
		napi_throw_error(env, NULL, "logban_scan.create: out of memory");
		return NULL;
	}
	int32_t vectors = 2;
	napi_valuetype vt = napi_undefined;
	if (argc >= 4 && napi_typeof(env, argv[3], &vt) == napi_ok && vt == napi_number) napi_get_value_int32(env, argv[3], &vectors);
	s->vectors = (uint8_t)(vectors < 0 ? 0 : vectors > 2 ? 2 : vectors);
	for (uint32_t k = 0; k < n; k++) {
		napi_value item, ci;
		void *data;
		size_t len;
		bool fold = false;
		if (napi_get_element(env, argv[0], k, &item) != napi_ok || napi_get_buffer_info(env, item, &data, &len) != napi_ok ||
		    napi_get_element(env, argv[1], k, &ci) != napi_ok || napi_get_value_bool(env, ci, &fold) != napi_ok || len == 0 ||
		    len > 1 << 20) {
			free_scanner(env, s, NULL);
			napi_throw_type_error(env, NULL, "logban_scan.create: each literal must be a non-empty Buffer with a boolean");
			return NULL;
		}
		Literal *l = &s->lits[s->nlits++];
		l->text = malloc(len);
		if (!l->text) {
			free_scanner(env, s, NULL);
			napi_throw_error(env, NULL, "logban_scan.create: out of memory");
			return NULL;
		}
		l->len = (uint32_t)len;
		l->fold = fold;
		for (size_t i = 0; i < len; i++) l->text[i] = fold ? lower(((uint8_t *)data)[i]) : ((uint8_t *)data)[i];
	}
	// the bucket scan where it applies, its pairs chosen by counts of adjacent bytes in the
	// sample; else each literal's rare pair for the pair scan (the costlier choice: ~3.5 ms
	// for 14 literals, which a replay's first chunk waited for)
	s->bucketed = s->nlits >= 2 && s->nlits <= MAX_BUCKETED && uses_avx2(s);
	for (uint32_t k = 0; k < s->nlits; k++) s->bucketed &= s->lits[k].len >= 2;
	if (s->bucketed) {
		uint32_t *grams = calloc(2 * 65536, sizeof *grams);
		if (!grams) {
			free_scanner(env, s, NULL);
			napi_throw_error(env, NULL, "logban_scan.create: out of memory");
			return NULL;
		}
		int folds = 0;
		for (uint32_t k = 0; k < s->nlits; k++) folds |= s->lits[k].fold;
		count_grams(sample, sample_len, 0, grams);
		if (folds) count_grams(sample, sample_len, 1, grams + 65536);
		for (uint32_t k = 0; k < s->nlits; k++) s->lits[k].gram = choose_gram(&s->lits[k], grams + (s->lits[k].fold ? 65536 : 0));
		free(grams);
		build_buckets(s);
	}
	for (uint32_t k = 0; k < s->nlits; k++) {
		Literal *l = &s->lits[k];
		// the scalar tail tests the anchors before the whole literal: the bucket scan's pair
		// serves as well as any
		uint32_t i = l->gram, j = l->gram + 1;
		if (!s->bucketed) choose_pair(l, sample, sample_len, &i, &j);
		l->a1 = anchor_of(s, (uint8_t)i, l->text[i], l->fold);
		l->a2 = anchor_of(s, (uint8_t)j, l->text[j], l->fold);
		Pair *pr = &s->pairs[k];
		const Anchor *x = &s->anchors[l->a1], *y = &s->anchors[l->a2];
		memset(pr->b1, x->byte, sizeof pr->b1);
		memset(pr->b2, y->byte, sizeof pr->b2);
		pr->o1 = x->offset;
		pr->o2 = y->offset;
		pr->f1 = x->fold;
		pr->f2 = y->fold;
	}
	napi_value out;
	if (napi_create_external(env, s, free_scanner, NULL, &out) != napi_ok) {
		free_scanner(env, s, NULL);
		napi_throw_error(env, NULL, "logban_scan.create: cannot wrap the scanner");
		return NULL;
	}
	return out;
}

/** The arguments each scan call starts with: (scanner, chunk: Uint8Array, ...); `argv` gets
 * `want` of them. NULL (with an exception thrown) when they are not that. */
static Scanner *scan_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, uint8_t **data, size_t *len)
{
	size_t argc = want;
	Scanner *s = NULL;
	napi_typedarray_type type;
	size_t offset;
	napi_value ab;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want ||
	    napi_get_value_external(env, argv[0], (void **)&s) != napi_ok ||
	    napi_get_typedarray_info(env, argv[1], &type, len, (void **)data, &ab, &offset) != napi_ok ||
	    type != napi_uint8_array || *len > INT32_MAX) {
		napi_throw_type_error(env, NULL, "logban_scan: expected a scanner and a Buffer under 2 GiB");
		return NULL;
	}
	return s;
}

/** The collected numbers as a new Int32Array; frees them. NULL (thrown) when out of memory. */
static napi_value int32_array(napi_env env, Hits *h, int err)
{
	void *outData;
	napi_value outBuf, out;
	if (err || napi_create_arraybuffer(env, h->n * sizeof(int32_t), &outData, &outBuf) != napi_ok ||
	    napi_create_typedarray(env, napi_int32_array, h->n, outBuf, 0, &out) != napi_ok) {
		free(h->v);
		napi_throw_error(env, NULL, "logban_scan: out of memory");
		return NULL;
	}
	if (h->n) memcpy(outData, h->v, h->n * sizeof(int32_t));
	free(h->v);
	return out;
}

/** lineHits(scanner, chunk: Uint8Array) -> Int32Array: per line holding a literal, the offset
 * of the first one, in order. */
static napi_value line_hits(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	uint8_t *data;
	size_t len;
	Scanner *s = scan_args(env, info, 2, argv, &data, &len);
	if (!s) return NULL;
	Hits h = { 0 };
	int err = 0;
	scan(s, data, len, &h, &err);
	return int32_array(env, &h, err);
}

/** walkLines(scanner, chunk: Uint8Array, maxLineLength) -> Int32Array [lines, long lines
 * without a hit, clean (1: all ASCII, no NUL, as checked by the walk; 0: not so or not
 * checked), then per line holding a literal: its number from 1, start, end] (walk()). */
static napi_value walk_lines(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	uint8_t *data;
	size_t len;
	Scanner *s = scan_args(env, info, 3, argv, &data, &len);
	if (!s) return NULL;
	int64_t max_len = -1;
	if (napi_get_value_int64(env, argv[2], &max_len) != napi_ok || max_len < 0) {
		napi_throw_type_error(env, NULL, "logban_scan.walkLines: a line length");
		return NULL;
	}
	Hits h = { 0 }, out = { 0 };
	Walked w = { 0, 0, 0 };
	int err = 0;
	scan(s, data, len, &h, &err);
	if (!err && (push_hit(&out, 0) < 0 || push_hit(&out, 0) < 0 || push_hit(&out, 0) < 0 ||
		     walk(s, data, len, &h, (size_t)max_len, &out, &w) < 0)) err = 1;
	free(h.v);
	if (!err) {
		out.v[0] = w.lines;
		out.v[1] = w.long_lines;
		out.v[2] = w.clean;
	}
	return int32_array(env, &out, err);
}

/** kernel(scanner) -> which scan a chunk gets on this CPU: "buckets", "pairs-avx2",
 * "pairs-sse2" or "bytes" (for tests and the bench's notes). */
static napi_value kernel(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], out;
	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	Scanner *s = NULL;
	CHECK(napi_get_value_external(env, argv[0], (void **)&s));
	static const char *const names[] = { "bytes", "pairs-sse2", "pairs-avx2", "buckets" };
	CHECK(napi_create_string_utf8(env, names[kernel_of(s)], NAPI_AUTO_LENGTH, &out));
	return out;
}

NAPI_MODULE_INIT()
{
	napi_value fn;
	CHECK(napi_create_function(env, "create", NAPI_AUTO_LENGTH, create, NULL, &fn));
	CHECK(napi_set_named_property(env, exports, "create", fn));
	CHECK(napi_create_function(env, "lineHits", NAPI_AUTO_LENGTH, line_hits, NULL, &fn));
	CHECK(napi_set_named_property(env, exports, "lineHits", fn));
	CHECK(napi_create_function(env, "walkLines", NAPI_AUTO_LENGTH, walk_lines, NULL, &fn));
	CHECK(napi_set_named_property(env, exports, "walkLines", fn));
	CHECK(napi_create_function(env, "kernel", NAPI_AUTO_LENGTH, kernel, NULL, &fn));
	CHECK(napi_set_named_property(env, exports, "kernel", fn));
	// what this CPU gives the scan: without vectors it is slower than RE2 (0.06 GB/s), and the
	// caller does not use it
	int32_t vectors = 0;
#ifdef LB_X86
	vectors = __builtin_cpu_supports("avx2") ? 2 : 1;
#endif
	napi_value v;
	CHECK(napi_create_int32(env, vectors, &v));
	CHECK(napi_set_named_property(env, exports, "vectors", v));
	return exports;
}
