/*
 * iocpscope's trace index pass, native: the per-event loop of
 * apps/server/src/tracedb/builder.ts (TraceIndexBuilder.addChunk), with its
 * lane summaries (summary.ts LaneBuilder, CounterBuilder) and session table
 * (session-table.ts), as a Node-API addon for Linux. The JavaScript builder is
 * the specification and the fallback: native-index.ts loads this when it is
 * built and checks nothing else; builder.test.ts runs the same naive-model
 * checks on both and compares the two finished indexes field by field.
 *
 * What it knows of the protocol comes from JavaScript at create(): a table of
 * what each event kind does (kind -> action) and the constants it needs, so
 * the protocol's numbers live in one place (packages/protocol).
 *
 * Arithmetic follows the JavaScript exactly: times and event numbers are
 * integers below 2^53 (held in int64_t, exact as doubles); bucket fractions
 * are accumulated in doubles in the same order and rounded as Math.round does;
 * the build uses -ffp-contract=off so no multiply-add is fused.
 *
 * Memory is per chunk, per lane, per bucket and per session, never per event.
 * Every allocation is checked; a failed one marks the builder as failed and
 * the next call throws INDEX_NO_MEMORY (nothing is written half).
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- what JavaScript tells us at create() ---- */

enum {
  A_NONE = 0,
  A_GQCS_ENTER,
  A_GQCS_RETURN,
  A_THREAD_START,
  A_THREAD_EXIT,
  A_THREAD_STATE,
  A_LOCK_WAIT,
  A_LOCK_ACQUIRE,
  A_PACKET_QUEUED,
  A_PQCS,
  A_IO_POSTED,
  A_GAP,
  A_MARKER,
  A_SNAPSHOT,
  A_TRACE_END
};
enum { S_NONE = 0, S_PLAIN, S_CREATED, S_ACCEPT, S_RELEASED, S_DISCONNECT };

/* indexes into the constants array */
enum {
  C_NO_THREAD = 0,
  C_WAITING,
  C_RUNNING,
  C_BLOCKED,
  C_EXITED,
  C_OP_POST,
  C_IO_PENDING,
  C_F_RECV,
  C_F_SEND,
  C_F_POST,
  C_F_FAIL,
  C_F_EMPTY,
  C_COUNT
};

#define MAX_RUNS 16
#define RECENT 1024 /* entries in Builder.recent (a power of two) */
#define TS_HI 0x1fffffu

/* ---- growable columns ---- */

typedef struct {
  double *a;
  size_t n, cap;
} F64;
typedef struct {
  uint32_t *a;
  size_t n, cap;
} U32;

static int grow_bytes(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t c = *cap ? *cap : 256;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q) return 0;
  memset((char *)q + *cap * elem, 0, (c - *cap) * elem);
  *p = q;
  *cap = c;
  return 1;
}
static int f64_push(F64 *v, double x) {
  if (!grow_bytes((void **)&v->a, &v->cap, v->n + 1, sizeof(double))) return 0;
  v->a[v->n++] = x;
  return 1;
}
static int u32_push(U32 *v, uint32_t x) {
  if (!grow_bytes((void **)&v->a, &v->cap, v->n + 1, sizeof(uint32_t))) return 0;
  v->a[v->n++] = x;
  return 1;
}

/* Math.round: the nearest integer, halves up. */
static double js_round(double x) {
  double r = floor(x);
  return x - r >= 0.5 ? r + 1 : r;
}

/* ---- one lane's level-0 buckets (summary.ts LaneBuilder) ---- */

typedef struct {
  uint8_t *frac; /* 3 bytes per bucket */
  size_t fracCap;
  uint8_t *flags;
  size_t flagsCap;
  int64_t filled;
  int state; /* -1 before the first */
  int64_t sinceNs;
  int64_t openB;
  double acc[3];
  int64_t originNs;
} Lane;

typedef struct Builder Builder;

struct Builder {
  int shift;
  int64_t width;
  int failed;
  uint8_t action[256];
  uint8_t sact[256];
  int32_t c[C_COUNT];
  uint32_t opFlag[4];

  int64_t events;
  int64_t startNs;
  int64_t originNs;
  int64_t lastNs;
  double clamped;
  int64_t traceEnd;

  F64 cOffset, cBytes, cFirst, cFirstNs, cLastNs;
  U32 cEvents, cKindsLo, cKindsHi, cLanes;

  int32_t laneOfTid[65536];
  uint8_t portThread[65536];
  /* lanes */
  size_t nLanes, lanesCap;
  uint32_t *lTid, *lRole, *lName, *lOs;
  double *lFirst, *lLast, *lExit;
  Lane *lane;
  int32_t runningNow;

  /* counters (summary.ts CounterBuilder): queue, running */
  struct {
    int32_t *min, *max;
    size_t cap;
    int64_t filled;
    int32_t value;
  } ctr[2];

  /* sessions (session-table.ts) */
  size_t rows, rowsCap;
  int32_t *slots;
  uint32_t mask;
  /* What every session event touches, in one half cache line per row; the rest apart. */
  struct Hot {
    uint32_t lo, hi;
    double last;
    uint32_t events;
    int32_t runFirst, runLast;
    uint32_t pad;
  } *hot;
  uint32_t *sPeer;
  double *sFirst, *sCreated, *sReleased, *sDisconnect;
  int32_t **done; /* per row: NULL or 2*MAX_RUNS+2 ints */
  uint8_t *doneLen;

  F64 gapEv, gapNs, gapLost, markEv, markNs, snapEv;

  /* The rows of sessions seen lately, direct-mapped on the id: most lookups end
   * here (a server's open sessions take turns), not in the table, whose probes
   * walk past other ids. Rows never move or go, so an entry is never stale; an
   * entry is taken only when both words of the id match. */
  struct Recent {
    uint32_t lo, hi;
    int32_t row, pad;
  } recent[RECENT];
};

static int lane_grow_frac(Lane *l, int64_t buckets) {
  return grow_bytes((void **)&l->frac, &l->fracCap, (size_t)buckets * 3, 1);
}

static int lane_close(Lane *l, int64_t width) {
  int64_t b = l->openB;
  if (!lane_grow_frac(l, b + 1)) return 0;
  double w = (double)width;
  size_t o = (size_t)b * 3;
  for (int s = 0; s < 3; s++) {
    double v = ((double)l->frac[o + s] / 255) * w + l->acc[s];
    double r = js_round((v / w) * 255);
    l->frac[o + s] = (uint8_t)(r > 255 ? 255 : r);
  }
  if (l->filled < b + 1) l->filled = b + 1;
  return 1;
}

static int lane_open(Lane *l, int64_t b, int64_t width) {
  if (b == l->openB) return 1;
  if (l->openB >= 0 && !lane_close(l, width)) return 0;
  l->openB = b;
  l->acc[0] = l->acc[1] = l->acc[2] = 0;
  return 1;
}

static int lane_interval(Lane *l, int64_t fromNs, int64_t toNs, int state, int exited, int shift) {
  int64_t w = (int64_t)1 << shift;
  if (!(toNs > fromNs) || state >= exited) {
    if (toNs > fromNs) return lane_open(l, toNs >> shift, w);
    return 1;
  }
  int64_t b = fromNs >> shift;
  int64_t last = toNs >> shift;
  if (!lane_open(l, b, w)) return 0;
  if (b == last) {
    l->acc[state] += (double)(toNs - fromNs);
    return 1;
  }
  l->acc[state] += (double)((b + 1) * w - fromNs);
  if (last > b + 1) {
    if (!lane_close(l, w)) return 0;
    l->openB = -1;
    if (!lane_grow_frac(l, last)) return 0;
    for (b = b + 1; b < last; b++) l->frac[b * 3 + state] = 255;
    if (l->filled < last) l->filled = last;
  }
  if (!lane_open(l, last, w)) return 0;
  l->acc[state] += (double)(toNs - last * w);
  return 1;
}

static int lane_set_state(Lane *l, int64_t absNs, int state, int exited, int shift) {
  int64_t ns = absNs - l->originNs;
  if (l->state >= 0 && !lane_interval(l, l->sinceNs, ns, l->state, exited, shift)) return 0;
  l->state = state;
  l->sinceNs = ns;
  return 1;
}

static int lane_add_flags(Lane *l, int64_t absNs, uint32_t f, int shift) {
  int64_t b = (absNs - l->originNs) >> shift;
  if (!grow_bytes((void **)&l->flags, &l->flagsCap, (size_t)b + 1, 1)) return 0;
  l->flags[b] |= (uint8_t)f;
  return 1;
}

static int lane_finish(Lane *l, int64_t absEndNs, int exited, int shift) {
  int64_t endNs = absEndNs - l->originNs;
  if (l->state >= 0 && endNs > l->sinceNs &&
      !lane_interval(l, l->sinceNs, endNs, l->state, exited, shift))
    return 0;
  if (endNs > l->sinceNs) l->sinceNs = endNs;
  if (l->openB >= 0 && !lane_close(l, (int64_t)1 << shift)) return 0;
  l->openB = -1;
  return 1;
}

/* ---- counters ---- */

static int ctr_fill_to(Builder *B, int k, int64_t n) {
  if (n <= B->ctr[k].filled) return 1;
  size_t cap = B->ctr[k].cap;
  if (!grow_bytes((void **)&B->ctr[k].min, &cap, (size_t)n, sizeof(int32_t))) return 0;
  cap = B->ctr[k].cap;
  if (!grow_bytes((void **)&B->ctr[k].max, &cap, (size_t)n, sizeof(int32_t))) return 0;
  B->ctr[k].cap = cap;
  for (int64_t i = B->ctr[k].filled; i < n; i++) {
    B->ctr[k].min[i] = B->ctr[k].value;
    B->ctr[k].max[i] = B->ctr[k].value;
  }
  B->ctr[k].filled = n;
  return 1;
}

static int ctr_set(Builder *B, int k, int64_t ns, int32_t after) {
  int64_t b = (ns - B->originNs) >> B->shift;
  if (b >= B->ctr[k].filled && !ctr_fill_to(B, k, b + 1)) return 0;
  if (after < B->ctr[k].min[b]) B->ctr[k].min[b] = after;
  if (after > B->ctr[k].max[b]) B->ctr[k].max[b] = after;
  B->ctr[k].value = after;
  return 1;
}

/* ---- lanes ---- */

#define GROW_COL(p, oldc, newc, T)                                        \
  do {                                                                     \
    T *q_ = (T *)realloc((p), (newc) * sizeof(T));                         \
    if (!q_) return -1;                                                    \
    memset(q_ + (oldc), 0, ((newc) - (oldc)) * sizeof(T));                 \
    (p) = q_;                                                              \
  } while (0)

static int new_lane(Builder *B, uint32_t tid, int64_t ev) {
  if (B->nLanes == B->lanesCap) {
    size_t o = B->lanesCap, c = o ? o * 2 : 64;
    GROW_COL(B->lTid, o, c, uint32_t);
    GROW_COL(B->lRole, o, c, uint32_t);
    GROW_COL(B->lName, o, c, uint32_t);
    GROW_COL(B->lOs, o, c, uint32_t);
    GROW_COL(B->lFirst, o, c, double);
    GROW_COL(B->lLast, o, c, double);
    GROW_COL(B->lExit, o, c, double);
    GROW_COL(B->lane, o, c, Lane);
    B->lanesCap = c;
  }
  size_t k = B->nLanes++;
  B->laneOfTid[tid] = (int32_t)k;
  B->lTid[k] = tid;
  B->lRole[k] = 4;
  B->lName[k] = 0;
  B->lOs[k] = 0;
  B->lFirst[k] = (double)ev;
  B->lLast[k] = (double)ev;
  B->lExit[k] = -1;
  Lane *l = &B->lane[k];
  memset(l, 0, sizeof *l);
  l->state = -1;
  l->openB = -1;
  l->originNs = B->originNs;
  return (int)k;
}

static int set_running(Builder *B, int64_t ns, int32_t v) {
  B->runningNow = v;
  return ctr_set(B, 1, ns, v);
}

static int lane_state(Builder *B, int lane, uint32_t tid, int64_t t, int st, int portCall) {
  Lane *lb = &B->lane[lane];
  int running = B->c[C_RUNNING];
  if (portCall && B->portThread[tid] == 0) {
    B->portThread[tid] = 1;
    if (lb->state == running && !set_running(B, t, B->runningNow + 1)) return 0;
  }
  if (st == lb->state) return 1;
  if (B->portThread[tid] == 1) {
    if (lb->state == running) {
      if (!set_running(B, t, B->runningNow - 1)) return 0;
    } else if (st == running) {
      if (!set_running(B, t, B->runningNow + 1)) return 0;
    }
  }
  return lane_set_state(lb, t, st, B->c[C_EXITED], B->shift);
}

/* ---- sessions ---- */

/* The slot of a 64-bit id: Fibonacci hashing, the product's top bits (ids
 * whose low bits vary little, as handles and pointers do, still spread). */
static uint32_t slot_of(uint32_t lo, uint32_t hi, uint32_t mask) {
  uint64_t k = (((uint64_t)hi << 32) | lo) * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(k >> 32) & mask;
}

static int rehash(Builder *B) {
  size_t size = ((size_t)B->mask + 1) * 2;
  int32_t *s = (int32_t *)malloc(size * sizeof(int32_t));
  if (!s) return 0;
  for (size_t i = 0; i < size; i++) s[i] = -1;
  uint32_t mask = (uint32_t)(size - 1);
  for (size_t r = 0; r < B->rows; r++) {
    uint32_t h = slot_of(B->hot[r].lo, B->hot[r].hi, mask);
    while (s[h] >= 0) h = (h + 1) & mask;
    s[h] = (int32_t)r;
  }
  free(B->slots);
  B->slots = s;
  B->mask = mask;
  return 1;
}

static int64_t session_row(Builder *B, uint32_t lo, uint32_t hi, int64_t ev, int32_t chunk) {
  uint32_t mask = B->mask;
  uint32_t h = slot_of(lo, hi, mask);
  for (;;) {
    int32_t r = B->slots[h];
    if (r < 0) break;
    if (B->hot[r].lo == lo && B->hot[r].hi == hi) return r;
    h = (h + 1) & mask;
  }
  if (B->rows == B->rowsCap) {
    size_t o = B->rowsCap, c = o ? o * 2 : 1024;
    GROW_COL(B->hot, o, c, struct Hot);
    GROW_COL(B->sPeer, o, c, uint32_t);
    GROW_COL(B->sFirst, o, c, double);
    GROW_COL(B->sCreated, o, c, double);
    GROW_COL(B->sReleased, o, c, double);
    GROW_COL(B->sDisconnect, o, c, double);
    GROW_COL(B->done, o, c, int32_t *);
    GROW_COL(B->doneLen, o, c, uint8_t);
    B->rowsCap = c;
  }
  size_t r = B->rows++;
  B->slots[h] = (int32_t)r;
  B->hot[r].lo = lo;
  B->hot[r].hi = hi;
  B->sFirst[r] = (double)ev;
  B->hot[r].last = (double)ev;
  B->sCreated[r] = -1;
  B->sReleased[r] = -1;
  B->sDisconnect[r] = -1;
  B->sPeer[r] = 0;
  B->hot[r].events = 0;
  B->hot[r].runFirst = chunk;
  B->hot[r].runLast = chunk;
  B->done[r] = NULL;
  B->doneLen[r] = 0;
  if (B->rows * 2 > B->mask && !rehash(B)) return -1;
  return (int64_t)r;
}

/* session-table.ts mergeClosestRuns: merge the two runs with the smallest gap. */
static void merge_closest(int32_t *runs, int *len) {
  int best = -1;
  int64_t gap = INT64_MAX;
  for (int k = 2; k < *len; k += 2) {
    int64_t g = (int64_t)runs[k] - runs[k - 1];
    if (g < gap) {
      gap = g;
      best = k;
    }
  }
  runs[best - 1] = runs[best + 1];
  memmove(runs + best, runs + best + 2, (size_t)(*len - best - 2) * sizeof(int32_t));
  *len -= 2;
}

static int session_touch(Builder *B, size_t r, int64_t ev, int32_t chunk) {
  struct Hot *h = &B->hot[r];
  h->last = (double)ev;
  h->events++;
  int32_t rl = h->runLast;
  if (rl == chunk) return 1;
  if (rl == chunk - 1) {
    h->runLast = chunk;
    return 1;
  }
  if (!B->done[r]) {
    B->done[r] = (int32_t *)malloc((MAX_RUNS * 2 + 2) * sizeof(int32_t));
    if (!B->done[r]) return 0;
  }
  int len = B->doneLen[r];
  B->done[r][len++] = h->runFirst;
  B->done[r][len++] = rl;
  if (len > (MAX_RUNS - 1) * 2) merge_closest(B->done[r], &len);
  B->doneLen[r] = (uint8_t)len;
  h->runFirst = chunk;
  h->runLast = chunk;
  return 1;
}

/* ---- the per-event loop (builder.ts addChunk) ---- */

static uint32_t mark_flags(const Builder *B, const uint32_t *w, int kind) {
  uint32_t w0 = w[0];
  uint32_t a = (w0 >> 8) & 0xff;
  uint32_t op = B->opFlag[a & 3];
  switch (B->action[kind]) {
    case A_GQCS_RETURN: {
      int ok = (a & 0x10) != 0, hasOv = (a & 0x20) != 0;
      if (!ok && !hasOv) return (uint32_t)B->c[C_F_EMPTY];
      uint32_t base = hasOv ? op : (uint32_t)B->c[C_F_POST];
      return ok ? base : base | (uint32_t)B->c[C_F_FAIL];
    }
    case A_PACKET_QUEUED:
      return w[6] != 0 ? op | (uint32_t)B->c[C_F_FAIL] : op;
    case A_PQCS:
      return (uint32_t)B->c[C_F_POST];
    case A_IO_POSTED:
      return w[6] == 0 || w[6] == (uint32_t)B->c[C_IO_PENDING] ? op : op | (uint32_t)B->c[C_F_FAIL];
    default:
      return 0;
  }
}

static int add_chunk(Builder *B, double fileOffset, double chunkBytes, const uint32_t *w, size_t n) {
  int32_t chunk = (int32_t)B->cOffset.n;
  uint32_t kindsLo = 0, kindsHi = 0, laneMask = 0;
  int64_t first = B->events;
  int64_t firstNs = -1;
  int64_t ns = B->lastNs;
  int64_t startNs = B->startNs;
  int64_t clamped = 0;
  uint32_t lastLo = 0, lastHi = 0;
  int64_t lastRow = -1;
  const uint32_t noThread = (uint32_t)B->c[C_NO_THREAD];
  const int shift = B->shift;
  for (size_t i = 0; i < n; i++) {
    const uint32_t *r = w + i * 8;
    uint32_t w0 = r[0];
    int kind = (int)(w0 & 0xff);
    uint32_t tid = w0 >> 16;
    int64_t t = (int64_t)r[2] + ((int64_t)(r[3] & TS_HI) << 32);
    if (startNs < 0) {
      startNs = t;
      B->originNs = (t >> shift) << shift;
      if (t > ns) ns = t;
    }
    if (t < ns) {
      t = ns;
      clamped++;
    }
    ns = t;
    if (firstNs < 0) firstNs = t;
    int64_t ev = first + (int64_t)i;
    if (kind < 32)
      kindsLo |= 1u << kind;
    else
      kindsHi |= 1u << ((kind - 32) & 31);

    int lane = -1;
    if (tid != noThread) {
      lane = B->laneOfTid[tid];
      if (lane < 0) {
        lane = new_lane(B, tid, ev);
        if (lane < 0) return 0;
      }
      laneMask |= 1u << (lane & 31);
      B->lLast[lane] = (double)ev;
    }
    int sa = B->sact[kind];
    if (sa != S_NONE) {
      uint32_t lo = r[4], hi = r[5];
      if ((lo | hi) != 0) {
        int64_t row;
        if (lastRow >= 0 && lo == lastLo && hi == lastHi)
          row = lastRow;
        else {
          struct Recent *c = &B->recent[((lo * 0x9E3779B1u) ^ hi) & (RECENT - 1)];
          if (c->row >= 0 && c->lo == lo && c->hi == hi)
            row = c->row;
          else {
            row = session_row(B, lo, hi, ev, chunk);
            if (row < 0) return 0;
            c->lo = lo;
            c->hi = hi;
            c->row = (int32_t)row;
          }
        }
        lastLo = lo;
        lastHi = hi;
        lastRow = row;
        if (!session_touch(B, (size_t)row, ev, chunk)) return 0;
        switch (sa) {
          case S_CREATED:
            if (B->sCreated[row] < 0) B->sCreated[row] = (double)ev;
            B->sPeer[row] = r[1];
            break;
          case S_ACCEPT:
            if (B->sPeer[row] == 0) B->sPeer[row] = r[1];
            break;
          case S_RELEASED:
            if (B->sReleased[row] < 0) B->sReleased[row] = (double)ev;
            break;
          case S_DISCONNECT:
            if (B->sDisconnect[row] < 0) B->sDisconnect[row] = (double)ev;
            break;
        }
      }
    }
    int ok = 1;
    switch (B->action[kind]) {
      case A_GQCS_ENTER:
        if (lane >= 0) ok = lane_state(B, lane, tid, t, B->c[C_WAITING], 1);
        break;
      case A_GQCS_RETURN: {
        uint32_t a = (w0 >> 8) & 0xff;
        if (lane >= 0) {
          ok = lane_state(B, lane, tid, t, B->c[C_RUNNING], 1) &&
               lane_add_flags(&B->lane[lane], t, mark_flags(B, r, kind), shift);
        }
        if (ok && (a & 0x30) != 0 && B->ctr[0].value > 0)
          ok = ctr_set(B, 0, t, B->ctr[0].value - 1);
        break;
      }
      case A_THREAD_START:
        if (lane >= 0) {
          B->lRole[lane] = (w0 >> 8) & 0xff;
          B->lName[lane] = r[1];
          B->lOs[lane] = r[6];
          ok = lane_state(B, lane, tid, t, B->c[C_RUNNING], 0);
        }
        break;
      case A_THREAD_EXIT:
      case A_THREAD_STATE:
      case A_LOCK_WAIT:
      case A_LOCK_ACQUIRE:
        if (lane >= 0) {
          int st;
          switch (B->action[kind]) {
            case A_THREAD_STATE: {
              int s = (int)((w0 >> 8) & 0xff);
              st = s <= B->c[C_EXITED] ? s : B->c[C_EXITED];
              break;
            }
            case A_LOCK_WAIT:
              st = B->c[C_BLOCKED];
              break;
            case A_THREAD_EXIT:
              st = B->c[C_EXITED];
              break;
            default:
              st = B->c[C_RUNNING];
          }
          if (st == B->c[C_EXITED]) B->lExit[lane] = (double)ev;
          ok = lane_state(B, lane, tid, t, st, 0);
        }
        break;
      case A_PACKET_QUEUED:
        if (lane >= 0) ok = lane_add_flags(&B->lane[lane], t, mark_flags(B, r, kind), shift);
        if (ok && (int32_t)((w0 >> 8) & 0x0f) != B->c[C_OP_POST])
          ok = ctr_set(B, 0, t, B->ctr[0].value + 1);
        break;
      case A_PQCS:
        if (lane >= 0) ok = lane_add_flags(&B->lane[lane], t, mark_flags(B, r, kind), shift);
        if (ok) ok = ctr_set(B, 0, t, B->ctr[0].value + 1);
        break;
      case A_IO_POSTED:
        if (lane >= 0) ok = lane_add_flags(&B->lane[lane], t, mark_flags(B, r, kind), shift);
        break;
      case A_GAP:
        ok = f64_push(&B->gapEv, (double)ev) && f64_push(&B->gapNs, (double)t) &&
             f64_push(&B->gapLost, (double)r[1] + (double)r[6] * 4294967296.0);
        break;
      case A_MARKER:
        ok = f64_push(&B->markEv, (double)ev) && f64_push(&B->markNs, (double)t);
        break;
      case A_SNAPSHOT:
        if (((w0 >> 8) & 0xff) == 0) ok = f64_push(&B->snapEv, (double)ev);
        break;
      case A_TRACE_END:
        B->traceEnd = ev;
        break;
    }
    if (!ok) return 0;
  }
  B->startNs = startNs;
  B->clamped += (double)clamped;
  B->lastNs = ns;
  B->events += (int64_t)n;
  return f64_push(&B->cOffset, fileOffset) && f64_push(&B->cBytes, chunkBytes) &&
         f64_push(&B->cFirst, (double)first) && u32_push(&B->cEvents, (uint32_t)n) &&
         f64_push(&B->cFirstNs, (double)(firstNs < 0 ? ns : firstNs)) &&
         f64_push(&B->cLastNs, (double)ns) && u32_push(&B->cKindsLo, kindsLo) &&
         u32_push(&B->cKindsHi, kindsHi) && u32_push(&B->cLanes, laneMask);
}

static void builder_free(Builder *B) {
  if (!B) return;
  for (size_t k = 0; k < B->nLanes; k++) {
    free(B->lane[k].frac);
    free(B->lane[k].flags);
  }
  for (size_t r = 0; r < B->rows; r++) free(B->done[r]);
  void *cols[] = {B->cOffset.a, B->cBytes.a, B->cFirst.a, B->cFirstNs.a, B->cLastNs.a,
                  B->cEvents.a, B->cKindsLo.a, B->cKindsHi.a, B->cLanes.a, B->lTid,
                  B->lRole, B->lName, B->lOs, B->lFirst, B->lLast, B->lExit, B->lane,
                  B->ctr[0].min, B->ctr[0].max, B->ctr[1].min, B->ctr[1].max, B->slots,
                  B->hot, B->sPeer, B->sFirst, B->sCreated,
                  B->sReleased, B->sDisconnect, B->done,
                  B->doneLen, B->gapEv.a, B->gapNs.a, B->gapLost.a, B->markEv.a,
                  B->markNs.a, B->snapEv.a};
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) free(cols[i]);
  free(B);
}

/* ---- CRC-32 (IEEE, reflected, as zlib and the protocol compute it) ----
 *
 * The index thread checks every chunk's CRC before it indexes it; zlib's runs
 * at about 3.5 GB/s here. With PCLMULQDQ the bytes are folded 64 at a time
 * into four 128-bit lanes (carry-less multiplies by x^(D±32) mod P for a
 * distance of D bits), then into one, and the last 16-byte remainder and the
 * tail go through the table: folding keeps the CRC of "remainder followed by
 * the rest" equal to the CRC of the whole. The constants are computed at load
 * from the polynomial, not written in. Without PCLMULQDQ (or not on x86-64,
 * or not GCC/Clang) the table does all of it. native-index.test.ts checks it
 * against the protocol's CRC over every length and alignment it tries. */

static uint32_t crc_table[256];

static uint32_t crc_raw(uint32_t c, const uint8_t *p, size_t n) {
  while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

/* x^n mod P, bit-reflected (bit 31 is x^0). */
static uint32_t crc_xpow(unsigned n) {
  uint32_t r = 0x80000000u;
  while (n--) r = r & 1 ? (r >> 1) ^ 0xEDB88320u : r >> 1;
  return r;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_CLMUL 1
static int crc_clmul_ok;
static uint64_t crc_k[4]; /* fold by 512 bits: lo, hi; by 128 bits: lo, hi */

__attribute__((target("pclmul,sse2"))) static __m128i crc_fold(__m128i x, __m128i k, __m128i next) {
  __m128i a = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i b = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(a, b), next);
}

__attribute__((target("pclmul,sse2"))) static uint32_t crc_clmul(uint32_t c, const uint8_t *p,
                                                                   size_t n) {
  const __m128i k4 = _mm_set_epi64x((long long)crc_k[1], (long long)crc_k[0]);
  const __m128i k1 = _mm_set_epi64x((long long)crc_k[3], (long long)crc_k[2]);
  __m128i x0 = _mm_loadu_si128((const __m128i *)p);
  __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
  x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)c));
  p += 64;
  n -= 64;
  while (n >= 64) {
    x0 = crc_fold(x0, k4, _mm_loadu_si128((const __m128i *)p));
    x1 = crc_fold(x1, k4, _mm_loadu_si128((const __m128i *)(p + 16)));
    x2 = crc_fold(x2, k4, _mm_loadu_si128((const __m128i *)(p + 32)));
    x3 = crc_fold(x3, k4, _mm_loadu_si128((const __m128i *)(p + 48)));
    p += 64;
    n -= 64;
  }
  x0 = crc_fold(x0, k1, x1);
  x0 = crc_fold(x0, k1, x2);
  x0 = crc_fold(x0, k1, x3);
  while (n >= 16) {
    x0 = crc_fold(x0, k1, _mm_loadu_si128((const __m128i *)p));
    p += 16;
    n -= 16;
  }
  uint8_t rest[16];
  _mm_storeu_si128((__m128i *)rest, x0);
  return crc_raw(crc_raw(0, rest, 16), p, n);
}
#endif

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    crc_table[i] = c;
  }
#ifdef HAVE_CLMUL
  crc_k[0] = (uint64_t)crc_xpow(512 + 32) << 1;
  crc_k[1] = (uint64_t)crc_xpow(512 - 32) << 1;
  crc_k[2] = (uint64_t)crc_xpow(128 + 32) << 1;
  crc_k[3] = (uint64_t)crc_xpow(128 - 32) << 1;
  __builtin_cpu_init();
  crc_clmul_ok = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
#endif
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
#ifdef HAVE_CLMUL
  if (crc_clmul_ok && n >= 64) return ~crc_clmul(c, p, n);
#endif
  return ~crc_raw(c, p, n);
}

/* ---- Node-API ---- */

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) return throw_code(env, "INDEX_NAPI", #call); \
  } while (0)

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  builder_free((Builder *)data);
}

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok) return 0;
  return type == want;
}

static Builder *unwrap(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return (Builder *)p;
}

/* The builder a call is given first (argv[0]), its `want` arguments read into argv; NULL
 * with a JavaScript error thrown when it is missing, not a builder, or failed earlier. */
static Builder *builder_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv,
                            const char *fn) {
  size_t argc = want;
  char msg[96];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    snprintf(msg, sizeof msg, "%s: napi_get_cb_info", fn);
    throw_code(env, "INDEX_NAPI", msg);
    return NULL;
  }
  Builder *B = argc >= want ? unwrap(env, argv[0]) : NULL;
  if (!B) {
    snprintf(msg, sizeof msg, "%s: not a builder", fn);
    throw_code(env, "INDEX_BAD_ARGUMENT", msg);
    return NULL;
  }
  if (B->failed) {
    snprintf(msg, sizeof msg, "%s: the builder ran out of memory earlier", fn);
    throw_code(env, "INDEX_NO_MEMORY", msg);
    return NULL;
  }
  return B;
}

/* create(shift, actions: Uint8Array(512) [action per kind, session action per kind], consts: Int32Array) */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t shift;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &shift) != napi_ok || shift < 0 || shift > 40)
    return throw_code(env, "INDEX_BAD_ARGUMENT", "create: shift must be an integer 0..40");
  void *tab, *cs;
  size_t tabLen, csLen;
  if (!typed(env, argv[1], napi_uint8_array, &tab, &tabLen) || tabLen != 512)
    return throw_code(env, "INDEX_BAD_ARGUMENT", "create: actions must be a Uint8Array(512)");
  if (!typed(env, argv[2], napi_int32_array, &cs, &csLen) || csLen != C_COUNT)
    return throw_code(env, "INDEX_BAD_ARGUMENT", "create: constants must be an Int32Array of the expected length");
  Builder *B = (Builder *)calloc(1, sizeof(Builder));
  if (!B) return throw_code(env, "INDEX_NO_MEMORY", "create: out of memory");
  B->shift = shift;
  B->width = (int64_t)1 << shift;
  memcpy(B->action, tab, 256);
  memcpy(B->sact, (uint8_t *)tab + 256, 256);
  memcpy(B->c, cs, sizeof B->c);
  B->opFlag[0] = 0;
  B->opFlag[1] = (uint32_t)B->c[C_F_RECV];
  B->opFlag[2] = (uint32_t)B->c[C_F_SEND];
  B->opFlag[3] = (uint32_t)B->c[C_F_POST];
  B->startNs = -1;
  B->traceEnd = -1;
  for (int i = 0; i < RECENT; i++) B->recent[i].row = -1;
  for (int i = 0; i < 65536; i++) B->laneOfTid[i] = -1;
  B->mask = (1u << 12) - 1;
  B->slots = (int32_t *)malloc(((size_t)B->mask + 1) * sizeof(int32_t));
  if (!B->slots) {
    builder_free(B);
    return throw_code(env, "INDEX_NO_MEMORY", "create: out of memory");
  }
  for (uint32_t i = 0; i <= B->mask; i++) B->slots[i] = -1;
  napi_value ext;
  if (napi_create_external(env, B, finalize, NULL, &ext) != napi_ok) {
    builder_free(B);
    return throw_code(env, "INDEX_NAPI", "create: napi_create_external");
  }
  return ext;
}

/* addChunk(builder, fileOffset, chunkBytes, records: Uint32Array) */
static napi_value js_add_chunk(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Builder *B = builder_arg(env, info, 4, argv, "addChunk");
  if (!B) return NULL;
  double off, bytes;
  void *data;
  size_t len;
  if (napi_get_value_double(env, argv[1], &off) != napi_ok ||
      napi_get_value_double(env, argv[2], &bytes) != napi_ok)
    return throw_code(env, "INDEX_BAD_ARGUMENT", "addChunk: offset and bytes must be numbers");
  if (!typed(env, argv[3], napi_uint32_array, &data, &len) || len % 8 != 0)
    return throw_code(env, "INDEX_BAD_ARGUMENT", "addChunk: records must be a Uint32Array of whole 8-word records");
  if (!add_chunk(B, off, bytes, (const uint32_t *)data, len / 8)) {
    B->failed = 1;
    return throw_code(env, "INDEX_NO_MEMORY", "addChunk: out of memory");
  }
  return NULL;
}

static int set_typed(napi_env env, napi_value obj, const char *name, napi_typedarray_type type,
                     size_t elem, const void *src, size_t n) {
  void *dst;
  napi_value ab, ta;
  if (napi_create_arraybuffer(env, n * elem, &dst, &ab) != napi_ok) return 0;
  if (n) memcpy(dst, src, n * elem);
  if (napi_create_typedarray(env, type, n, ab, 0, &ta) != napi_ok) return 0;
  return napi_set_named_property(env, obj, name, ta) == napi_ok;
}
static int set_num(napi_env env, napi_value obj, const char *name, double v) {
  napi_value x;
  if (napi_create_double(env, v, &x) != napi_ok) return 0;
  return napi_set_named_property(env, obj, name, x) == napi_ok;
}
#define F64S(name, p, n) set_typed(env, out, name, napi_float64_array, 8, p, n)
#define U32S(name, p, n) set_typed(env, out, name, napi_uint32_array, 4, p, n)
#define I32S(name, p, n) set_typed(env, out, name, napi_int32_array, 4, p, n)

/* finish(builder): the index so far, as columns (native-index.ts assembles the TraceIndex). */
static napi_value js_finish(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Builder *B = builder_arg(env, info, 1, argv, "finish");
  if (!B) return NULL;
  int64_t endNs = B->lastNs;
  int64_t nb = ((endNs - B->originNs) >> B->shift) + 1;
  if (!ctr_fill_to(B, 0, nb) || !ctr_fill_to(B, 1, nb)) {
    B->failed = 1;
    return throw_code(env, "INDEX_NO_MEMORY", "finish: out of memory");
  }
  napi_value out;
  CHECK(napi_create_object(env, &out));
  int ok = set_num(env, out, "events", (double)B->events) &&
           set_num(env, out, "startNs", (double)B->startNs) &&
           set_num(env, out, "endNs", (double)endNs) &&
           set_num(env, out, "originNs", (double)B->originNs) &&
           set_num(env, out, "buckets", (double)nb) &&
           set_num(env, out, "traceEnd", (double)B->traceEnd) &&
           set_num(env, out, "clamped", B->clamped);
  size_t nc = B->cOffset.n;
  ok = ok && F64S("cOffset", B->cOffset.a, nc) && F64S("cBytes", B->cBytes.a, nc) &&
       F64S("cFirst", B->cFirst.a, nc) && U32S("cEvents", B->cEvents.a, nc) &&
       F64S("cFirstNs", B->cFirstNs.a, nc) && F64S("cLastNs", B->cLastNs.a, nc) &&
       U32S("cKindsLo", B->cKindsLo.a, nc) && U32S("cKindsHi", B->cKindsHi.a, nc) &&
       U32S("cLanes", B->cLanes.a, nc);
  size_t nl = B->nLanes;
  ok = ok && U32S("lTid", B->lTid, nl) && U32S("lRole", B->lRole, nl) &&
       U32S("lName", B->lName, nl) && U32S("lOs", B->lOs, nl) && F64S("lFirst", B->lFirst, nl) &&
       F64S("lLast", B->lLast, nl) && F64S("lExit", B->lExit, nl);
  ok = ok && I32S("queueMin", B->ctr[0].min, (size_t)nb) &&
       I32S("queueMax", B->ctr[0].max, (size_t)nb) && I32S("runMin", B->ctr[1].min, (size_t)nb) &&
       I32S("runMax", B->ctr[1].max, (size_t)nb);
  if (!ok) return throw_code(env, "INDEX_NAPI", "finish: could not build the result");

  /* Each lane's level 0, closed at endNs on a copy (the builder can go on). */
  napi_value fracs, flagsArr;
  CHECK(napi_create_array_with_length(env, nl, &fracs));
  CHECK(napi_create_array_with_length(env, nl, &flagsArr));
  for (size_t k = 0; k < nl; k++) {
    Lane probe = B->lane[k];
    probe.frac = NULL;
    probe.flags = NULL; /* lane_finish touches fractions only */
    probe.flagsCap = 0;
    probe.fracCap = 0;
    if (B->lane[k].fracCap) {
      probe.frac = (uint8_t *)malloc(B->lane[k].fracCap);
      if (!probe.frac) return throw_code(env, "INDEX_NO_MEMORY", "finish: out of memory");
      memcpy(probe.frac, B->lane[k].frac, B->lane[k].fracCap);
      probe.fracCap = B->lane[k].fracCap;
    }
    int fine = lane_finish(&probe, endNs, B->c[C_EXITED], B->shift);
    napi_value ab, ta;
    void *dst;
    size_t fb = (size_t)nb * 3;
    if (fine && napi_create_arraybuffer(env, fb, &dst, &ab) == napi_ok) {
      memset(dst, 0, fb);
      memcpy(dst, probe.frac, probe.fracCap < fb ? probe.fracCap : fb);
      fine = napi_create_typedarray(env, napi_uint8_array, fb, ab, 0, &ta) == napi_ok &&
             napi_set_element(env, fracs, (uint32_t)k, ta) == napi_ok;
    } else
      fine = 0;
    free(probe.frac);
    if (fine && napi_create_arraybuffer(env, (size_t)nb, &dst, &ab) == napi_ok) {
      memset(dst, 0, (size_t)nb);
      size_t have = B->lane[k].flagsCap < (size_t)nb ? B->lane[k].flagsCap : (size_t)nb;
      if (have) memcpy(dst, B->lane[k].flags, have);
      fine = napi_create_typedarray(env, napi_uint8_array, (size_t)nb, ab, 0, &ta) == napi_ok &&
             napi_set_element(env, flagsArr, (uint32_t)k, ta) == napi_ok;
    } else
      fine = 0;
    if (!fine) return throw_code(env, "INDEX_NO_MEMORY", "finish: a lane's summary");
  }
  CHECK(napi_set_named_property(env, out, "laneFrac", fracs));
  CHECK(napi_set_named_property(env, out, "laneFlags", flagsArr));

  /* Sessions in columns (session-table.ts snapshot). */
  size_t n = B->rows, total = 0;
  for (size_t r = 0; r < n; r++) {
    size_t k = (size_t)B->doneLen[r] + 2;
    total += k < MAX_RUNS * 2 ? k : MAX_RUNS * 2;
  }
  double *nums = (double *)malloc((n ? n : 1) * 5 * sizeof(double));
  uint32_t *runsAt = (uint32_t *)malloc((n + 1) * sizeof(uint32_t));
  uint32_t *runs = (uint32_t *)malloc((total ? total : 1) * sizeof(uint32_t));
  if (!nums || !runsAt || !runs) {
    free(nums);
    free(runsAt);
    free(runs);
    return throw_code(env, "INDEX_NO_MEMORY", "finish: sessions");
  }
  size_t at = 0;
  for (size_t r = 0; r < n; r++) {
    double *o = nums + r * 5;
    o[0] = B->sFirst[r];
    o[1] = B->hot[r].last;
    o[2] = B->sCreated[r];
    o[3] = B->sReleased[r];
    o[4] = B->sDisconnect[r];
    runsAt[r] = (uint32_t)at;
    if (!B->done[r]) {
      runs[at++] = (uint32_t)B->hot[r].runFirst;
      runs[at++] = (uint32_t)B->hot[r].runLast;
    } else {
      int32_t list[MAX_RUNS * 2 + 4];
      int len = B->doneLen[r];
      memcpy(list, B->done[r], (size_t)len * sizeof(int32_t));
      list[len++] = B->hot[r].runFirst;
      list[len++] = B->hot[r].runLast;
      if (len > MAX_RUNS * 2) merge_closest(list, &len);
      for (int i = 0; i < len; i++) runs[at++] = (uint32_t)list[i];
    }
  }
  runsAt[n] = (uint32_t)at;
  uint32_t *cols3 = (uint32_t *)malloc((n ? n : 1) * 3 * sizeof(uint32_t));
  if (!cols3) {
    free(nums);
    free(runsAt);
    free(runs);
    return throw_code(env, "INDEX_NO_MEMORY", "finish: sessions");
  }
  for (size_t r = 0; r < n; r++) {
    cols3[r] = B->hot[r].lo;
    cols3[n + r] = B->hot[r].hi;
    cols3[2 * n + r] = B->hot[r].events;
  }
  ok = U32S("sLo", cols3, n) && U32S("sHi", cols3 + n, n) && F64S("sNums", nums, n * 5) &&
       U32S("sPeer", B->sPeer, n) && U32S("sEvents", cols3 + 2 * n, n) &&
       U32S("sRunsAt", runsAt, n + 1) && U32S("sRuns", runs, at);
  free(cols3);
  free(nums);
  free(runsAt);
  free(runs);
  ok = ok && F64S("gapEv", B->gapEv.a, B->gapEv.n) && F64S("gapNs", B->gapNs.a, B->gapNs.n) &&
       F64S("gapLost", B->gapLost.a, B->gapLost.n) && F64S("markEv", B->markEv.a, B->markEv.n) &&
       F64S("markNs", B->markNs.a, B->markNs.n) && F64S("snapEv", B->snapEv.a, B->snapEv.n);
  if (!ok) return throw_code(env, "INDEX_NAPI", "finish: could not build the result");
  return out;
}

/* crc32(bytes: Uint8Array, start, end): the CRC-32 of bytes[start, end). */
static napi_value js_crc32(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  size_t len;
  double start, end;
  if (argc < 3 || !typed(env, argv[0], napi_uint8_array, &data, &len) ||
      napi_get_value_double(env, argv[1], &start) != napi_ok ||
      napi_get_value_double(env, argv[2], &end) != napi_ok || !(start >= 0) || !(end >= start) ||
      end > (double)len || start != floor(start) || end != floor(end))
    return throw_code(env, "INDEX_BAD_ARGUMENT", "crc32: a Uint8Array and 0 <= start <= end <= length");
  napi_value out;
  CHECK(napi_create_uint32(
      env, crc32_ieee((const uint8_t *)data + (size_t)start, (size_t)(end - start)), &out));
  return out;
}

/* findInvalid(records: Uint32Array, from, to, kindMax, tsHiMax): the first record in
 * [from, to) whose kind is 0 or above kindMax, or whose timestamp's high word is
 * above tsHiMax; -1 when none is. The protocol's findInvalidRecord, which is its
 * specification (native-index.test.ts compares them). */
static napi_value js_find_invalid(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  size_t len;
  double from, to, kmax, hmax;
  if (argc < 5 || !typed(env, argv[0], napi_uint32_array, &data, &len) ||
      napi_get_value_double(env, argv[1], &from) != napi_ok ||
      napi_get_value_double(env, argv[2], &to) != napi_ok ||
      napi_get_value_double(env, argv[3], &kmax) != napi_ok ||
      napi_get_value_double(env, argv[4], &hmax) != napi_ok || !(from >= 0) || !(to >= from) ||
      to * 8 > (double)len || from != floor(from) || to != floor(to) || !(kmax >= 0) ||
      kmax > 255 || !(hmax >= 0) || hmax > 4294967295.0)
    return throw_code(env, "INDEX_BAD_ARGUMENT",
                      "findInvalid: a Uint32Array, 0 <= from <= to <= records, kindMax 0..255, tsHiMax a u32");
  const uint32_t *w = (const uint32_t *)data;
  const uint32_t km = (uint32_t)kmax, hm = (uint32_t)hmax;
  double bad = -1;
  for (size_t i = (size_t)from, n = (size_t)to; i < n; i++) {
    uint32_t k = w[i * 8] & 0xff;
    if (k == 0 || k > km || w[i * 8 + 3] > hm) {
      bad = (double)i;
      break;
    }
  }
  napi_value out;
  CHECK(napi_create_double(env, bad, &out));
  return out;
}

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static napi_value init(napi_env env, napi_value exports) {
  /* once per process: each worker thread loads the addon, and another may be using the table */
  pthread_once(&crc_once, crc_init);
  napi_property_descriptor d[] = {
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"addChunk", NULL, js_add_chunk, NULL, NULL, NULL, napi_default, NULL},
      {"finish", NULL, js_finish, NULL, NULL, NULL, napi_default, NULL},
      {"crc32", NULL, js_crc32, NULL, NULL, NULL, napi_default, NULL},
      {"findInvalid", NULL, js_find_invalid, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
