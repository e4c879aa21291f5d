// The chat server as a ServerApp: its shared state (rooms, pool, send
// queues, timer, locks) created once per server, the SendBuffer pool's bytes
// after the sessions' rings in the port's arena, and its thread entries.

import type { ServerApp } from '../session/app.ts';
import { FAULT_WORDS } from '../session/faults.ts';
import { ChatCore, type ChatThreadInput } from './core.ts';
import {
  ChatState,
  H_BROADCASTS,
  H_CHATS,
  H_DELIVERIES,
  H_DROPPED,
  H_OVERFLOW_KICKS,
  H_POOL_EMPTY,
} from './state.ts';

export const CHAT_APP: ServerApp = {
  name: 'chat',
  workerEntry: new URL('./worker-thread.ts', import.meta.url),
  acceptEntry: new URL('./accept-thread.ts', import.meta.url),
  create(config, table) {
    const state = ChatState.create({
      rooms: config.chat.rooms,
      maxSessions: table.maxSessions,
      sendBuffers: config.chat.sendBuffers,
      tickMs: config.chat.tickMs,
    });
    const input: ChatThreadInput = { state: state.sab, t0Ms: Date.now() };
    const i = state.i32;
    return {
      tcpNoDelay: true,
      extraArenaBytes: ChatState.poolBytes(config.chat.sendBuffers),
      threadInput: input,
      mainCore: (t, host, rec) =>
        new ChatCore(t, host.arena, rec, null, host, FAULT_WORDS, state, input.t0Ms),
      stats: () => ({
        chats: Atomics.load(i, H_CHATS),
        broadcasts: Atomics.load(i, H_BROADCASTS),
        deliveries: Atomics.load(i, H_DELIVERIES),
        sendBuffersFree: state.poolFree,
        sendBuffers: state.poolCap,
        poolEmpty: Atomics.load(i, H_POOL_EMPTY),
        dropped: Atomics.load(i, H_DROPPED),
        overflowKicks: Atomics.load(i, H_OVERFLOW_KICKS),
      }),
      state,
    };
  },
};
