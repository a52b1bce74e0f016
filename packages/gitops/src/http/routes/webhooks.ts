/** Webhook intake shared by the providers: read the body, check the signature, parse JSON. */
import type { LRUCache } from "lru-cache";
import { readSecret } from "../../spec/secrets.js";
import type { SecretSource } from "../../spec/spec.js";
import { CONSUMED_BODY_MESSAGE, readBody } from "../body.js";
import { type Api, fail, type Reply, type RequestContext } from "../router.js";

/** Webhook secrets by provider; a provider without a secret has no webhook route (404). */
export interface WebhookSecrets {
  /** HMAC secret of GitHub's `X-Hub-Signature-256`. */
  readonly github?: SecretSource;
  /** Token GitLab sends in `X-Gitlab-Token`. */
  readonly gitlab?: SecretSource;
  /** HMAC secret of the generic webhook's `X-Signature: sha256=…`. */
  readonly generic?: SecretSource;
}

/** What webhook routes need besides the API. */
export interface Webhooks {
  readonly secrets: WebhookSecrets;
  /** Delivery ids seen lately, to drop repeats. */
  readonly deliveries: LRUCache<string, true>;
}

/** Reads the body of a webhook and checks its signature; a Reply means stop here. */
export async function webhookBody(
  api: Api,
  hooks: Webhooks,
  ctx: RequestContext,
  provider: keyof WebhookSecrets,
  check: (secret: string, body: string) => boolean | Promise<boolean>,
): Promise<{ readonly payload: unknown } | Reply> {
  const { metrics, maxBody, log } = api;
  const source = hooks.secrets[provider];
  if (!source) return fail(404, `the ${provider} webhook is not configured`);
  const body = await readBody(ctx.req, maxBody);
  if (body === "too-large") {
    metrics.webhook(provider, "invalid");
    return fail(413, `the body is larger than ${maxBody} bytes`);
  }
  if (body === "aborted") return fail(400, "the request was aborted");
  if (body === "consumed") return fail(400, CONSUMED_BODY_MESSAGE);
  let secret: string;
  try {
    secret = readSecret(source, `webhooks.${provider}`);
  } catch (error) {
    log?.error({ provider }, (error as Error).message);
    return fail(503, `the ${provider} webhook secret is not available`);
  }
  if (!(await check(secret, body))) {
    metrics.webhook(provider, "unauthorized");
    log?.warn({ provider }, "webhook with a missing or wrong signature refused");
    return fail(401, "missing or invalid signature");
  }
  try {
    return { payload: JSON.parse(body) as unknown };
  } catch {
    metrics.webhook(provider, "invalid");
    return fail(400, "the body is not valid JSON");
  }
}
