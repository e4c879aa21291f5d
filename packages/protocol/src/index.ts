// Public surface of @iocpscope/protocol. Imports nothing internal, no node:*, no DOM.
export * from './events.ts';
export * from './record.ts';
