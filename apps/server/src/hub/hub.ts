// Live fan-out of event batches to any number of dashboard clients.
//
// Model: batches published by the source (the drainer) are coalesced into one
// shared frame per event-loop turn (or per maxFrameRecords), encoded once and
// handed to every client by reference. Each client has a bounded queue, counted
// in bytes and frames from the moment a frame is handed to its sink until the
// sink reports it written. A frame that does not fit is not queued: the client
// is "in a gap" and skips frames until its queue drains below half; then it
// gets one resume frame (the strings it missed, the structural records it
// missed from LiveState, and a Gap record of GapSource.ClientQueue with the
// count of events it lost) and continues live. A stalled client therefore
// costs at most its queue bound, and publishing never waits for any client.
//
// With a source that tracks the stream's state (the drainer: requestSnapshot),
// a client's first frame is a v2 Snapshot bracket (reason LateJoin: every
// live thread, session with its outstanding I/O, the queue, held locks) taken
// at the exact point of the stream where its live frames begin; and a client
// resuming after a gap gets the Gap record and then a Resync bracket, so its
// state is known again instead of guessed. Until the bracket arrives (one
// drainer interval) the client gets no event frames. Other sources keep the
// structural snapshot and resume frames described above.
//
// A client may also ask for a Resync bracket itself (requestResync: the
// browser trimmed its window and wants the state at a cut): it keeps getting
// frames until the bracket arrives at the next cut, so nothing is lost; one
// request at a time.
//
// With a stream position (attach's `position`: the live spool's count of the
// source's records), every frame carries the stream number of its first
// record in its header (FORMAT.md §5.1); a per-client frame (a bracket, a
// Gap, a resume frame) carries the number of the stream record after it.
//
// Invariants per client: frames arrive with strictly increasing seq (a skipped
// frame's seq is reused by the resume frame, which replaces it); every string
// id a record refers to has been sent before or in the same frame; records are
// in stream order; events delivered + events counted in Gap records = events
// published since the client joined (structural records re-sent on resume are
// not counted as lost).

import {
  EventKind,
  GapSource,
  NO_THREAD,
  RECORD_WORDS,
  SnapshotReason,
  encodeFrame,
  tsAt,
  writeRecord,
} from '@iocpscope/protocol';
import { StreamError } from './errors.ts';
import { LiveState } from './live-state.ts';
import type { EventBatchListener, EventSource, StringEntries, TraceSnapshot } from './types.ts';

/** Where a client's frames go; transport/ adapts a WebSocket to this. */
export interface ClientSink {
  /** Send one binary message; `done` runs once it is written out (or failed). */
  sendBinary(data: Uint8Array, done: (err?: Error | null) => void): void;
  /** Send one text message; `done` as for sendBinary. */
  sendText(text: string, done: (err?: Error | null) => void): void;
  /** Close the connection (idempotent). */
  close(code: number, reason: string): void;
}

export interface HubOptions {
  /** Bytes a client may have queued before it starts losing frames. Default 8 MiB. */
  maxClientQueueBytes?: number;
  /** Frames a client may have queued before it starts losing frames. Default 1024. */
  maxClientQueueFrames?: number;
  /** Largest number of records in one shared frame. Default 8192 (256 KiB). */
  maxFrameRecords?: number;
  /** Most clients at once; addClient throws BUSY beyond. Default 64. */
  maxClients?: number;
}

export interface HubClientStats {
  id: number;
  /** Events delivered in live frames. */
  deliveredEvents: number;
  /** Events reported lost in Gap records. */
  lostEvents: number;
  gaps: number;
  queuedBytes: number;
  queuedFrames: number;
  /** Highest queuedBytes seen: the client's memory bound in practice. */
  peakQueuedBytes: number;
}

export interface HubStats {
  clients: number;
  publishedEvents: number;
  frames: number;
  liveThreads: number;
  strings: number;
  perClient: HubClientStats[];
}

interface SharedFrame {
  bytes: Uint8Array;
  seq: number;
  /** Stream index of the first record, and one past the last. */
  firstIdx: number;
  endIdx: number;
  /** String table positions this frame's strings section covers. */
  stringsFrom: number;
  stringsTo: number;
  /** Timestamp of the last record before this frame, and of this frame's last record. */
  prevLastTs: number;
  lastTs: number;
}

const DEFAULTS = {
  maxClientQueueBytes: 8 * 1024 * 1024,
  maxClientQueueFrames: 1024,
  maxFrameRecords: 8192,
  maxClients: 64,
};

function positiveInt(name: string, v: number | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new StreamError('BAD_OPTIONS', `${name} must be an integer in [1, ${max}], got ${v}`);
  }
  return v;
}

let nextClientId = 1;

export class HubClient {
  readonly id = nextClientId++;
  readonly #hub: Hub;
  readonly #sink: ClientSink;
  readonly #maxBytes: number;
  readonly #maxFrames: number;
  #closed = false;
  #queuedBytes = 0;
  #queuedFrames = 0;
  #peakQueuedBytes = 0;
  #inGap = false;
  #paused = false;
  /** Waiting for its first snapshot (late join) or a resync snapshot: no event frames meanwhile. */
  #awaiting: 'first' | 'resync' | null = null;
  /** The client asked for a Resync bracket (requestResync); frames go on until it arrives. */
  #resyncRequested = false;
  /** Stream index up to which this client has received (or been told it lost) every event. */
  #deliveredIdx: number;
  /** String table position up to which this client has every string. */
  #stringMark: number;
  #deliveredEvents = 0;
  #lostEvents = 0;
  #gaps = 0;
  /** Latest coalesced text per key, waiting for the queue to drain. */
  readonly #pendingText = new Map<string, string>();

  /** @internal Created by Hub.addClient. */
  constructor(
    hub: Hub,
    sink: ClientSink,
    startIdx: number,
    stringMark: number,
    maxBytes: number,
    maxFrames: number,
  ) {
    this.#hub = hub;
    this.#sink = sink;
    this.#deliveredIdx = startIdx;
    this.#stringMark = stringMark;
    this.#maxBytes = maxBytes;
    this.#maxFrames = maxFrames;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The client asked not to get event frames for now (control channel pause-stream). */
  get streamPaused(): boolean {
    return this.#paused;
  }

  /**
   * Stop sending event frames; the control channel stays. Events published
   * meanwhile are reported as one Gap when the stream resumes.
   */
  pauseStream(): void {
    if (this.#paused || this.#closed) return;
    this.#paused = true;
    this.#inGap = true;
  }

  /**
   * The client asks for a Resync bracket (control channel `resync`): its next
   * frame, at the next cut of the stream, is the state there; the frames before
   * it keep coming. Throws UNSUPPORTED for a source without brackets, BUSY while
   * a bracket is pending for this client or its stream is paused.
   */
  requestResync(): void {
    if (this.#closed) return;
    const hub = this.#hub;
    if (!hub.tracksState) {
      throw new StreamError('UNSUPPORTED', 'this stream has no state snapshots to resync from');
    }
    if (this.#resyncRequested || this.#awaiting !== null) {
      throw new StreamError('BUSY', 'a snapshot for this client is already on its way');
    }
    if (this.#paused) throw new StreamError('BUSY', 'the stream is paused: resume it first');
    this.#resyncRequested = true;
    hub.requestClientSnapshot(this, SnapshotReason.Resync);
  }

  resumeStream(): void {
    if (!this.#paused || this.#closed) return;
    this.#paused = false;
    if (this.#belowLowWater()) {
      const h = this.#hub;
      this.#resume(h.flushedIdx, h.flushedStrings, h.lastTs, h.lastSeq);
    }
  }

  stats(): HubClientStats {
    return {
      id: this.id,
      deliveredEvents: this.#deliveredEvents,
      lostEvents: this.#lostEvents,
      gaps: this.#gaps,
      queuedBytes: this.#queuedBytes,
      queuedFrames: this.#queuedFrames,
      peakQueuedBytes: this.#peakQueuedBytes,
    };
  }

  /**
   * Send a reply. Replies are never dropped (they answer this client's own
   * requests), but a client that lets them pile up past twice its queue bound
   * is closed: it is not reading.
   */
  sendText(text: string): void {
    if (this.#closed) return;
    if (this.#queuedBytes > 2 * this.#maxBytes) {
      this.close(1008, 'client is not reading');
      return;
    }
    this.#send(null, text);
  }

  /**
   * Send a status-like message: if the queue is full, only the latest text
   * per `key` is kept and sent once the queue drains.
   */
  sendLatest(key: string, text: string): void {
    if (this.#closed) return;
    if (this.#pendingText.size === 0 && this.#fits(text.length)) this.#send(null, text);
    else this.#pendingText.set(key, text);
  }

  /** Close the connection and leave the hub. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#hub.removeClient(this);
    this.#sink.close(code, reason);
  }

  /** @internal Hub → client: the snapshot that starts the stream. */
  sendFirst(bytes: Uint8Array): void {
    this.#send(bytes, null);
  }

  /** @internal Hub → client: its stream starts with a snapshot the hub asked for. */
  awaitFirst(): void {
    this.#awaiting = 'first';
  }

  /**
   * @internal A snapshot arrived at the cut where the hub has flushed
   * everything up to `endIdx`: the first frame, or the resync after a gap
   * (a Gap record for what was not delivered, then the bracket).
   */
  snapshotArrived(
    bracket: Uint32Array,
    endIdx: number,
    stringsEnd: number,
    gapTs: number,
    seq: number,
  ): void {
    const why = this.#awaiting ?? (this.#resyncRequested ? 'resync' : null);
    this.#awaiting = null;
    this.#resyncRequested = false;
    if (this.#closed || why === null) return;
    const hub = this.#hub;
    // A late joiner has no strings yet; a resyncing client has those up to its mark.
    const from = why === 'first' ? 0 : this.#stringMark;
    const strings = hub.state.strings.entriesFrom(from).slice(0, stringsEnd - from);
    let records = bracket;
    const lost = why === 'resync' ? endIdx - this.#deliveredIdx : 0;
    if (lost > 0) {
      records = new Uint32Array(bracket.length + RECORD_WORDS);
      writeGapRecord(records, 0, gapTs, lost);
      records.set(bracket, RECORD_WORDS);
      this.#gaps++;
      this.#lostEvents += lost;
    }
    // A client that paused its stream meanwhile gets the bracket it asked for, then nothing
    // until it resumes (which brings a Gap and a bracket of its own).
    if (why === 'resync') this.#inGap = this.#paused;
    this.#send(hub.encode({ seq, records, strings }, endIdx), null);
    this.#deliveredIdx = endIdx;
    this.#stringMark = stringsEnd;
  }

  /** @internal Hub → client: the next shared frame. */
  offer(f: SharedFrame): void {
    if (this.#closed || this.#awaiting !== null) return;
    if (this.#inGap) {
      if (this.#paused || !this.#belowLowWater()) return;
      this.#resume(f.firstIdx, f.stringsFrom, f.prevLastTs, (f.seq - 1) >>> 0);
    }
    if (!this.#fits(f.bytes.length)) {
      this.#inGap = true;
      return;
    }
    this.#send(f.bytes, null);
    this.#deliveredIdx = f.endIdx;
    this.#stringMark = f.stringsTo;
    this.#deliveredEvents += f.endIdx - f.firstIdx;
  }

  #fits(bytes: number): boolean {
    return (
      this.#queuedFrames < this.#maxFrames &&
      (this.#queuedBytes === 0 || this.#queuedBytes + bytes <= this.#maxBytes)
    );
  }

  #belowLowWater(): boolean {
    return this.#queuedBytes <= this.#maxBytes / 2 && this.#queuedFrames <= this.#maxFrames / 2;
  }

  /** Close the gap: everything in [deliveredIdx, endIdx) is accounted for by one frame. */
  #resume(endIdx: number, stringsEnd: number, gapTs: number, seq: number): void {
    const hub = this.#hub;
    if (this.#awaiting !== null) return;
    if (endIdx === this.#deliveredIdx && stringsEnd === this.#stringMark) {
      this.#inGap = false;
      return;
    }
    if (hub.tracksState && endIdx > this.#deliveredIdx) {
      // State the lost events changed is given again by a Resync bracket.
      this.#awaiting = 'resync';
      hub.requestClientSnapshot(this, SnapshotReason.Resync);
      return;
    }
    this.#inGap = false;
    const kept = hub.state.recordsBetween(this.#deliveredIdx, endIdx, true);
    const keptCount = kept.length / RECORD_WORDS;
    const lost = endIdx - this.#deliveredIdx - keptCount;
    let records = kept;
    if (lost > 0) {
      records = new Uint32Array(kept.length + RECORD_WORDS);
      records.set(kept);
      writeGapRecord(records, keptCount, gapTs, lost);
    }
    const strings = hub.state.strings
      .entriesFrom(this.#stringMark)
      .slice(0, stringsEnd - this.#stringMark);
    this.#send(hub.encode({ seq, records, strings }, endIdx), null);
    this.#deliveredIdx = endIdx;
    this.#stringMark = stringsEnd;
    this.#lostEvents += lost;
    this.#deliveredEvents += keptCount;
    this.#gaps++;
  }

  #send(bytes: Uint8Array | null, text: string | null): void {
    const n = bytes !== null ? bytes.length : text!.length;
    this.#queuedBytes += n;
    this.#queuedFrames++;
    if (this.#queuedBytes > this.#peakQueuedBytes) this.#peakQueuedBytes = this.#queuedBytes;
    const done = (err?: Error | null): void => {
      this.#queuedBytes -= n;
      this.#queuedFrames--;
      if (err) this.close(1011, 'send failed');
      else this.#drained();
    };
    if (bytes !== null) this.#sink.sendBinary(bytes, done);
    else this.#sink.sendText(text!, done);
  }

  /** A queued message was written: catch up now rather than at the next frame. */
  #drained(): void {
    if (this.#closed || !this.#belowLowWater()) return;
    if (this.#inGap && !this.#paused && this.#awaiting === null) {
      const h = this.#hub;
      this.#resume(h.flushedIdx, h.flushedStrings, h.lastTs, h.lastSeq);
    }
    if (this.#pendingText.size > 0) {
      const texts = [...this.#pendingText.values()];
      this.#pendingText.clear();
      for (const t of texts) this.#send(null, t);
    }
  }
}

export function writeGapRecord(w: Uint32Array, i: number, tsNs: number, lost: number): void {
  const TWO_32 = 4294967296;
  writeRecord(
    w,
    i,
    EventKind.Gap,
    GapSource.ClientQueue,
    NO_THREAD,
    lost % TWO_32,
    tsNs,
    0,
    0,
    Math.floor(lost / TWO_32),
    0,
  );
}

export class Hub {
  readonly state = new LiveState();
  readonly #opts: Required<HubOptions>;
  readonly #clients = new Set<HubClient>();
  readonly #pending: Uint32Array;
  #pendingLen = 0;
  #scheduled = false;
  #closed = false;
  #flushedIdx = 0;
  #flushedStrings = 0;
  #lastTs = 0;
  #seq = 0;
  #frames = 0;
  readonly #unsubscribers: Array<() => void> = [];
  /** The source's snapshot request, when it tracks the stream's state. */
  #requestSnapshot: EventSource['requestSnapshot'] | undefined;
  /** Stream number minus hub index (attach's position), or null without one. */
  #streamBase: number | null = null;

  constructor(options: HubOptions = {}) {
    this.#opts = {
      maxClientQueueBytes: positiveInt(
        'maxClientQueueBytes',
        options.maxClientQueueBytes,
        DEFAULTS.maxClientQueueBytes,
        2 ** 31,
      ),
      maxClientQueueFrames: positiveInt(
        'maxClientQueueFrames',
        options.maxClientQueueFrames,
        DEFAULTS.maxClientQueueFrames,
        1 << 20,
      ),
      maxFrameRecords: positiveInt(
        'maxFrameRecords',
        options.maxFrameRecords,
        DEFAULTS.maxFrameRecords,
        1 << 18,
      ),
      maxClients: positiveInt('maxClients', options.maxClients, DEFAULTS.maxClients, 1 << 16),
    };
    this.#pending = new Uint32Array(this.#opts.maxFrameRecords * RECORD_WORDS);
  }

  /** Stream index one past the last flushed event. */
  get flushedIdx(): number {
    return this.#flushedIdx;
  }
  /** String table position covered by flushed frames. */
  get flushedStrings(): number {
    return this.#flushedStrings;
  }
  /** Timestamp of the last flushed record (0 before any). */
  get lastTs(): number {
    return this.#lastTs;
  }
  /** Seq of the last shared frame (0 before any). */
  get lastSeq(): number {
    return this.#seq;
  }
  get clientCount(): number {
    return this.#clients.size;
  }
  get canAcceptClient(): boolean {
    return !this.#closed && this.#clients.size < this.#opts.maxClients;
  }
  get options(): Readonly<Required<HubOptions>> {
    return this.#opts;
  }

  /**
   * Learn the state of a stream that started before the hub subscribed (e.g.
   * the feed's snapshot) without sending it: later clients get it in their
   * snapshot frame. Call before attach().
   */
  seed(snapshot: { records: Uint32Array; strings: StringEntries }): void {
    this.flush();
    this.state.observeStrings(snapshot.strings);
    this.state.observeRecords(snapshot.records);
    const n = snapshot.records.length / RECORD_WORDS;
    this.#flushedIdx = this.state.eventCount;
    this.#flushedStrings = this.state.strings.size;
    if (n > 0) this.#lastTs = Math.max(this.#lastTs, tsAt(snapshot.records, n - 1));
  }

  /** Run fn for every connected client. */
  forEachClient(fn: (client: HubClient) => void): void {
    for (const c of [...this.#clients]) fn(c);
  }

  /**
   * Subscribe to a source; its batches are published until close().
   * `position`: the number of the source's records delivered so far, by a
   * listener subscribed before this one (the live spool): from now on every
   * frame carries the stream number of its records (FORMAT.md §5.1).
   */
  attach(source: EventSource, options: { position?: () => number } = {}): void {
    const listener: EventBatchListener = (records, strings) => this.publish(records, strings);
    if (options.position !== undefined) {
      this.#streamBase = options.position() - this.#flushedIdx - this.#pendingLen;
    }
    this.#unsubscribers.push(source.subscribe(listener));
    if (source.requestSnapshot !== undefined) {
      this.#requestSnapshot = source.requestSnapshot.bind(source);
    }
  }

  /** The stream number of hub index `idx`, when the hub knows the stream's position. */
  streamOf(idx: number): number | undefined {
    return this.#streamBase === null ? undefined : idx + this.#streamBase;
  }

  /** @internal A frame whose first stream record (or the one after it) is hub index `idx`. */
  encode(
    f: { seq: number; records: Uint32Array; strings: StringEntries },
    idx: number,
  ): Uint8Array {
    const stream = this.streamOf(idx);
    return encodeFrame(stream === undefined ? f : { ...f, stream });
  }

  /** The source gives Snapshot brackets (late joiners and resyncs get the full state). */
  get tracksState(): boolean {
    return this.#requestSnapshot !== undefined;
  }

  /** @internal Ask the source for a bracket for `client`; it arrives at a cut of the stream. */
  requestClientSnapshot(client: HubClient, reason: SnapshotReason): void {
    this.#requestSnapshot!(reason, (snap) => {
      if (this.#closed || client.closed) return;
      // Everything before the cut was published: flush it to the others first.
      this.flush();
      client.snapshotArrived(
        snap.records,
        this.#flushedIdx,
        this.#flushedStrings,
        this.#lastTs,
        this.#seq,
      );
    });
  }

  /** Take one batch (copied). Never blocks and never waits for a client. */
  publish(records: Uint32Array, strings: StringEntries): void {
    if (this.#closed) return;
    if (records.length % RECORD_WORDS !== 0) {
      throw new RangeError(`publish: ${records.length} words is not whole records`);
    }
    if (strings.length > 0) this.state.observeStrings(strings);
    this.state.observeRecords(records);
    const cap = this.#opts.maxFrameRecords;
    let off = 0;
    const total = records.length / RECORD_WORDS;
    while (off < total) {
      const take = Math.min(cap - this.#pendingLen, total - off);
      this.#pending.set(
        records.subarray(off * RECORD_WORDS, (off + take) * RECORD_WORDS),
        this.#pendingLen * RECORD_WORDS,
      );
      this.#pendingLen += take;
      off += take;
      if (this.#pendingLen === cap) this.flush();
    }
    if (
      !this.#scheduled &&
      (this.#pendingLen > 0 || this.state.strings.size > this.#flushedStrings)
    ) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Encode what is pending into one shared frame and offer it to every client. */
  flush(): void {
    const n = this.#pendingLen;
    const stringsTo = this.state.strings.size;
    if (n === 0 && stringsTo === this.#flushedStrings) return;
    const records = this.#pending.subarray(0, n * RECORD_WORDS);
    const prevLastTs = this.#lastTs;
    const lastTs = n > 0 ? tsAt(records, n - 1) : prevLastTs;
    const firstIdx = this.#flushedIdx;
    const stringsFrom = this.#flushedStrings;
    this.#pendingLen = 0;
    this.#flushedIdx += n;
    this.#flushedStrings = stringsTo;
    this.#lastTs = lastTs;
    if (this.#clients.size === 0) return; // nobody to encode for
    this.#seq = (this.#seq + 1) >>> 0;
    this.#frames++;
    const frame: SharedFrame = {
      bytes: this.encode(
        { seq: this.#seq, records, strings: this.state.strings.entriesFrom(stringsFrom) },
        firstIdx,
      ),
      seq: this.#seq,
      firstIdx,
      endIdx: firstIdx + n,
      stringsFrom,
      stringsTo,
      prevLastTs,
      lastTs,
    };
    for (const c of this.#clients) c.offer(frame);
  }

  /**
   * Add a client. `greet` may send it text first (the control channel's
   * hello); then it gets one snapshot frame (every string, live threads, the
   * port), then live frames. Throws BUSY at maxClients.
   */
  addClient(sink: ClientSink, greet?: (client: HubClient) => void): HubClient {
    if (!this.canAcceptClient) {
      throw new StreamError(
        'BUSY',
        this.#closed ? 'hub is closed' : `at most ${this.#opts.maxClients} clients`,
      );
    }
    this.flush();
    const client = new HubClient(
      this,
      sink,
      this.#flushedIdx,
      this.#flushedStrings,
      this.#opts.maxClientQueueBytes,
      this.#opts.maxClientQueueFrames,
    );
    this.#clients.add(client);
    greet?.(client);
    if (this.#requestSnapshot !== undefined) {
      client.awaitFirst();
      this.requestClientSnapshot(client, SnapshotReason.LateJoin);
      return client;
    }
    const snap = this.snapshot();
    client.sendFirst(
      this.encode(
        { seq: this.#seq, records: snap.records, strings: snap.strings },
        this.#flushedIdx,
      ),
    );
    return client;
  }

  /** @internal Called by HubClient.close. */
  removeClient(client: HubClient): void {
    this.#clients.delete(client);
  }

  /** The state a late subscriber needs, consistent with every batch published so far. */
  snapshot(): TraceSnapshot {
    return {
      records: this.state.recordsBetween(0, this.state.eventCount, false),
      strings: this.state.strings.entriesFrom(0),
    };
  }

  /** Send a coalescing text (status) to every client. */
  broadcastLatest(key: string, text: string): void {
    for (const c of this.#clients) c.sendLatest(key, text);
  }

  stats(): HubStats {
    return {
      clients: this.#clients.size,
      publishedEvents: this.state.eventCount,
      frames: this.#frames,
      liveThreads: this.state.liveThreads,
      strings: this.state.strings.size,
      perClient: [...this.#clients].map((c) => c.stats()),
    };
  }

  /** Stop taking batches, flush, and close every client. */
  close(code = 1001, reason = 'server shutting down'): void {
    if (this.#closed) return;
    for (const u of this.#unsubscribers.splice(0)) u();
    this.flush();
    this.#closed = true;
    for (const c of [...this.#clients]) c.close(code, reason);
  }
}
