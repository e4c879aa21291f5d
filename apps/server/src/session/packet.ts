// The echo wire format (iocp-model.md §2): a 4-byte header, u16le payload
// length then u16le type, followed by 0..8192 payload bytes. The server sends
// every complete packet back unchanged. A length above MAX_PAYLOAD_BYTES or a
// type outside [MIN_PACKET_TYPE, MAX_PACKET_TYPE] kicks the session.

export const HEADER_BYTES = 4;
export const MAX_PAYLOAD_BYTES = 8192;
export const MAX_PACKET_BYTES = HEADER_BYTES + MAX_PAYLOAD_BYTES;
/** Type 0 is reserved (an all-zero header is a classic framing bug). */
export const MIN_PACKET_TYPE = 1;
/** Types with the top bit set are reserved for control traffic the echo server does not speak. */
export const MAX_PACKET_TYPE = 0x7fff;
/** The type the load generator sends by default. */
export const ECHO_PACKET_TYPE = 1;

export const isValidPacketType = (t: number): boolean =>
  t >= MIN_PACKET_TYPE && t <= MAX_PACKET_TYPE;
