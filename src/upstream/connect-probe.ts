import { forwardProxyFor } from "./forward-proxy.ts";

/**
 * Whether a provider's address accepts a TCP connection within `ms`. Bun's fetch
 * does not say when its connection is made, so a connect that never completes looks
 * like a slow answer; when an attempt has had no answer for `connect_seconds`, one
 * such probe tells the two apart. Through a forward proxy, the proxy's address is
 * what the connection is made to. The probe sends nothing and closes at once.
 */
export function canConnect(origin: string, ms: number): Promise<boolean> {
  const target = forwardProxyFor(origin) ?? new URL(origin);
  const tls = target.protocol === "https:";
  const port = Number(target.port) || (tls ? 443 : 80);
  const hostname = target.hostname.replace(/^\[|\]$/g, "");
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => {
      settle(false);
      void pending.then((socket) => socket.end(), () => undefined);
    }, ms);
    const pending = Bun.connect({
      hostname,
      port,
      socket: {
        open(socket) {
          socket.end();
          settle(true);
        },
        connectError() {
          settle(false);
        },
        data() {},
      },
    });
    pending.catch(() => settle(false));
  });
}
