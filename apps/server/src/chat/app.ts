import type { ServerApp } from '../session/app.ts';
import { ECHO_APP } from '../echo/app.ts';
export const CHAT_APP: ServerApp = { ...ECHO_APP, name: 'chat' };
