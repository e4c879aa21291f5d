// The chat wire format (issue 18 §1), shared by the chat server and its load
// generator. Every packet has the echo server's 4-byte header: u16le payload
// length, u16le type. The PacketHandler (core.ts) dispatches client packets
// by type; a type outside this table, or a length its type does not allow,
// kicks the session (BadType, BadLength), as the echo server does.
//
// Client -> server                      Server -> client
//   1 Login  name (1..32 bytes UTF-8)     0x101 LoginOk    rooms u16, 0 u16, population u16 x rooms
//   2 Enter  room u16                     0x102 EnterOk    room u16, 0 u16, nextSeq u32
//   3 Leave  (empty)                      0x103 Broadcast  room u16, nameLen u8, 0 u8, seq u32, name, text
//   4 Chat   text (1..512 bytes)          0x104 LeaveOk    room u16, 0 u16, nextSeq u32
//   5 Ping   (empty: keeps an idle listener alive against the idle timeout)
//
// Sequence numbers are per room: the room's JobQueue gives each chat the next
// one as it broadcasts it. EnterOk's nextSeq is the first broadcast the new
// member gets; LeaveOk's the first it no longer gets. Between the two a member
// gets every broadcast of the room exactly once, in sequence order.

export const HEADER_BYTES = 4;

export const ChatPacket = {
  Login: 1,
  Enter: 2,
  Leave: 3,
  Chat: 4,
  Ping: 5,
  LoginOk: 0x101,
  EnterOk: 0x102,
  Broadcast: 0x103,
  LeaveOk: 0x104,
} as const;

export const MAX_NAME_BYTES = 32;
export const MAX_TEXT_BYTES = 512;
/** The broadcast's fixed part after the header: room, name length, flags, seq. */
export const BROADCAST_FIXED_BYTES = 8;
/** Every packet the server writes fits one pooled SendBuffer. */
export const SEND_BUFFER_BYTES = 1024;
/** Rooms a server may have (LoginOk lists each room's population). */
export const MAX_ROOMS = 256;

/** The payload length a client packet type allows: [min, max], or null for an unknown type. */
export function clientPayloadRange(type: number): readonly [number, number] | null {
  switch (type) {
    case ChatPacket.Login:
      return [1, MAX_NAME_BYTES];
    case ChatPacket.Enter:
      return [2, 2];
    case ChatPacket.Leave:
    case ChatPacket.Ping:
      return [0, 0];
    case ChatPacket.Chat:
      return [1, MAX_TEXT_BYTES];
    default:
      return null;
  }
}

/** Largest payload any client packet may carry (a longer header length kicks at once). */
export const MAX_CLIENT_PAYLOAD = MAX_TEXT_BYTES;

// ---- encoding (the load generator and tests; the server writes into the arena) ----

export function encodePacket(type: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(HEADER_BYTES + payload.length);
  b.writeUInt16LE(payload.length, 0);
  b.writeUInt16LE(type, 2);
  b.set(payload, HEADER_BYTES);
  return b;
}

export const loginPacket = (name: string): Buffer =>
  encodePacket(ChatPacket.Login, Buffer.from(name, 'utf8'));

export function enterPacket(room: number): Buffer {
  const p = Buffer.alloc(2);
  p.writeUInt16LE(room, 0);
  return encodePacket(ChatPacket.Enter, p);
}

export const leavePacket = (): Buffer => encodePacket(ChatPacket.Leave, new Uint8Array(0));
export const pingPacket = (): Buffer => encodePacket(ChatPacket.Ping, new Uint8Array(0));
export const chatPacket = (text: Uint8Array): Buffer => encodePacket(ChatPacket.Chat, text);

/** A server packet, decoded. */
export type ServerPacket =
  | { type: typeof ChatPacket.LoginOk; populations: number[] }
  | { type: typeof ChatPacket.EnterOk; room: number; nextSeq: number }
  | { type: typeof ChatPacket.LeaveOk; room: number; nextSeq: number }
  | {
      type: typeof ChatPacket.Broadcast;
      room: number;
      seq: number;
      name: Uint8Array;
      text: Uint8Array;
    }
  | { type: 'unknown'; code: number; length: number };

/** Decode one server packet's payload (`p` excludes the header). */
export function decodeServerPacket(type: number, p: Uint8Array): ServerPacket {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  switch (type) {
    case ChatPacket.LoginOk: {
      if (p.length < 4) break;
      const n = dv.getUint16(0, true);
      if (p.length !== 4 + 2 * n) break;
      const populations: number[] = [];
      for (let k = 0; k < n; k++) populations.push(dv.getUint16(4 + 2 * k, true));
      return { type, populations };
    }
    case ChatPacket.EnterOk:
    case ChatPacket.LeaveOk:
      if (p.length !== 8) break;
      return { type, room: dv.getUint16(0, true), nextSeq: dv.getUint32(4, true) };
    case ChatPacket.Broadcast: {
      if (p.length < BROADCAST_FIXED_BYTES) break;
      const nameLen = p[2]!;
      if (p.length < BROADCAST_FIXED_BYTES + nameLen) break;
      return {
        type,
        room: dv.getUint16(0, true),
        seq: dv.getUint32(4, true),
        name: p.subarray(BROADCAST_FIXED_BYTES, BROADCAST_FIXED_BYTES + nameLen),
        text: p.subarray(BROADCAST_FIXED_BYTES + nameLen),
      };
    }
    default:
      break;
  }
  return { type: 'unknown', code: type, length: p.length };
}
