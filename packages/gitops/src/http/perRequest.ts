/**
 * Look-ups made once per request: who a request's session or bearer token
 * stands for is asked by the router, the page and its forms, and each answer
 * costs an HMAC and a store round trip. The answer is kept beside the request
 * object (a WeakMap, so it goes with the request) and every later caller gets
 * the same promise.
 */
import type { IncomingMessage } from "node:http";

/** `lookup`, asked at most once per request; later calls for the same request share its promise (a rejection too). */
export function perRequest<T>(
  lookup: (req: IncomingMessage) => Promise<T>,
): (req: IncomingMessage) => Promise<T> {
  const answers = new WeakMap<IncomingMessage, Promise<T>>();
  return (req) => {
    let answer = answers.get(req);
    if (!answer) {
      answer = lookup(req);
      answers.set(req, answer);
    }
    return answer;
  };
}
