/**
 * Child process for region tests that need another user or another process: performs one region
 * operation given as JSON in argv[2] and reports { ok, code, message } over IPC.
 */
import { native } from '../../../src/native/index.js';

const request = JSON.parse(process.argv[2]!) as (
  | { op: 'attach'; path: string; readOnly?: boolean }
  | { op: 'create'; path: string; capacity: number }
) & { user?: number };

// Become the other user only now, with the addon loaded: it could not read a 0700 checkout.
if (request.user !== undefined) {
  process.setgid!(request.user);
  process.setuid!(request.user);
}

try {
  const region =
    request.op === 'attach'
      ? native.attachRegion(request.path, { readOnly: request.readOnly })
      : native.createRegion({ path: request.path, capacity: request.capacity, nodeName: 'child' });
  region.close();
  process.send!({ ok: true });
} catch (error) {
  const e = error as Error & { code?: string };
  process.send!({ ok: false, code: e.code, message: e.message });
}
process.disconnect();
