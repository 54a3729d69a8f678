// A small Fedify application on 127.0.0.1 for the interop tests (our own code).
//
// One actor, "bob", with an RSA and an Ed25519 key.  Its inbox listeners record every
// verified activity; a wrapper around Federation.fetch records, for every POST, which HTTP
// signature scheme the request carried and the status Fedify answered.  The Python tests
// drive it through /_test/* endpoints:
//
//   GET  /_test/state                   what was received, the inbox requests, followers
//   POST /_test/lookup  {"id"}          lookupObject(id): a handle (WebFinger) or a URL
//   POST /_test/send    {"activity", "to"}   sign and deliver an activity as bob
//   POST /_test/gone    {"to"}              bob's account is deleted (410); tell "to"
//   POST /_test/as-sent {"activity"}        the body Fedify POSTs for it (with the proof
//                                           and LD signature it adds), captured on itself
//   POST /_test/ld-sign {"activity"}        the activity with only an LD signature by bob
//
// It prints one JSON line {"port": N} on stdout when it listens.  Environment:
// FIRST_KNOCK ("rfc9421" or "draft-cavage-http-signatures-12"): the first signature
// scheme Fedify tries on a server it has not met; FEDIFY_QUEUE=1: run with a message queue
// (without one, sendActivity delivers before it returns).
import http from "node:http";
import {
  createFederation,
  generateCryptoKeyPair,
  InProcessMessageQueue,
  MemoryKvStore,
  signJsonLd,
} from "@fedify/fedify";
import {
  Accept,
  Activity,
  Announce,
  Create,
  Delete,
  Endpoints,
  Follow,
  Like,
  Note,
  Person,
  Reject,
  Tombstone,
  Undo,
  Update,
  isActor,
  lookupObject,
} from "@fedify/vocab";

const HANDLE = "bob";
const keys = [
  await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
  await generateCryptoKeyPair("Ed25519"),
];
const received = []; // activities the inbox listeners saw (compact JSON-LD)
const requests = []; // {path, scheme, status, activity} for every POST
const followers = new Map(); // actor id -> actor document URL (accepted follows)
const notes = new Map(); // note id -> JSON-LD of notes bob published (or null once deleted)
const captured = new Map(); // activity id -> body Fedify POSTed to /_test/capture
let gone = false; // bob deleted his account: his actor (and key) answer 410

function schemeOf(headers) {
  if (headers.get("signature-input")) return "rfc9421";
  if (headers.get("signature")) return "draft-cavage";
  return "none";
}

function buildFederation(origin) {
  const federation = createFederation({
    kv: new MemoryKvStore(),
    origin,
    allowPrivateAddress: true, // loopback only: this peer exists for tests
    firstKnock: process.env.FIRST_KNOCK || undefined,
    // FEDIFY_QUEUE=1: queued inbox processing and two-stage fan-out, as in production
    queue: process.env.FEDIFY_QUEUE === "1" ? new InProcessMessageQueue() : undefined,
  });

  federation
    .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
      if (identifier !== HANDLE) return null;
      if (gone) return new Tombstone({ id: ctx.getActorUri(identifier), formerType: Person });
      const pairs = await ctx.getActorKeyPairs(identifier);
      return new Person({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        name: "Bob on Fedify",
        inbox: ctx.getInboxUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        publicKey: pairs[0].cryptographicKey,
        assertionMethods: pairs.map((pair) => pair.multikey),
      });
    })
    .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === HANDLE ? keys : []));

  federation.setObjectDispatcher(Note, "/notes/{id}", async (ctx, values) => {
    const uri = ctx.getObjectUri(Note, values).href;
    if (!notes.has(uri)) return null;
    const document = notes.get(uri);
    if (document === null) return new Tombstone({ id: new URL(uri) });
    return await Note.fromJsonLd(document, { documentLoader: ctx.documentLoader });
  });

  const record = async (ctx, activity) => {
    received.push(await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader }));
  };

  federation
    .setInboxListeners("/users/{identifier}/inbox", "/inbox")
    // Shared-inbox fetches are signed as bob (Fedify's advice for authorized-fetch peers).
    .setSharedKeyDispatcher(() => ({ identifier: HANDLE }))
    .on(Follow, async (ctx, follow) => {
      await record(ctx, follow);
      const parsed = follow.objectId == null ? null : ctx.parseUri(follow.objectId);
      if (parsed?.type !== "actor" || parsed.identifier !== HANDLE) return;
      const follower = await follow.getActor(ctx);
      if (follower == null || !isActor(follower)) return;
      followers.set(follower.id.href, follower);
      await ctx.sendActivity(
        { identifier: HANDLE },
        follower,
        new Accept({
          id: new URL(`#accepts/${crypto.randomUUID()}`, ctx.getActorUri(HANDLE)),
          actor: ctx.getActorUri(HANDLE),
          object: follow,
          to: follower.id,
        }),
      );
    })
    .on(Accept, record)
    .on(Reject, record)
    .on(Create, record)
    .on(Update, record)
    .on(Delete, record)
    .on(Like, record)
    .on(Announce, record)
    .on(Undo, record);
  return federation;
}

function json(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json" });
  res.end(body);
}

async function control(federation, origin, path, body, res) {
  const ctx = federation.createContext(new URL(origin), undefined);
  if (path === "/_test/state") {
    return json(res, 200, { received, requests, followers: [...followers.keys()] });
  }
  const input = JSON.parse(body.toString("utf-8") || "{}");
  if (path === "/_test/lookup") {
    const found = await lookupObject(input.id, {
      documentLoader: ctx.documentLoader,
      contextLoader: ctx.contextLoader,
      allowPrivateAddress: true,
    });
    if (found == null) return json(res, 404, { error: `nothing found for ${input.id}` });
    return json(res, 200, await found.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader }));
  }
  if (path === "/_test/send") {
    const activity = await Activity.fromJsonLd(input.activity, {
      documentLoader: ctx.documentLoader,
      contextLoader: ctx.contextLoader,
    });
    const object = input.activity.object;
    if (object && typeof object === "object" && typeof object.id === "string") {
      if (object.id.startsWith(origin)) {
        notes.set(object.id, activity instanceof Delete ? null : { "@context": input.activity["@context"], ...object });
      }
    }
    if (activity instanceof Delete && typeof object === "string" && notes.has(object)) {
      notes.set(object, null);
    }
    const recipient = await lookupObject(input.to, {
      // signed as bob, as a Fedify app would, so authorized-fetch servers answer
      documentLoader: await ctx.getDocumentLoader({ identifier: HANDLE }),
      contextLoader: ctx.contextLoader,
    });
    if (recipient == null || !isActor(recipient)) {
      return json(res, 404, { error: `no actor at ${input.to}` });
    }
    await ctx.sendActivity({ identifier: HANDLE }, recipient, activity);
    return json(res, 200, { id: activity.id?.href ?? null });
  }
  if (path === "/_test/ld-sign") {
    // Only an LD signature (what Fedify sends has a proof too, and signs over it).
    const activity = await Activity.fromJsonLd(input.activity, {
      documentLoader: ctx.documentLoader,
      contextLoader: ctx.contextLoader,
    });
    const [rsa] = await ctx.getActorKeyPairs(HANDLE);
    const document = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
    const signed = await signJsonLd(document, rsa.privateKey, rsa.keyId, {
      contextLoader: ctx.contextLoader,
    });
    return json(res, 200, { body: JSON.stringify(signed) });
  }
  if (path === "/_test/capture") {
    captured.set(input.id, body.toString("utf-8"));
    return json(res, 202, {});
  }
  if (path === "/_test/as-sent") {
    // Deliver to our own capture inbox: the body exactly as Fedify sends it to anyone.
    const activity = await Activity.fromJsonLd(input.activity, {
      documentLoader: ctx.documentLoader,
      contextLoader: ctx.contextLoader,
    });
    const capture = { id: new URL("/users/capture", origin), inboxId: new URL("/_test/capture", origin) };
    await ctx.sendActivity({ identifier: HANDLE }, capture, activity);
    return json(res, 200, { body: captured.get(activity.id.href) });
  }
  if (path === "/_test/gone") {
    const recipient = await lookupObject(input.to, {
      // signed as bob, as a Fedify app would, so authorized-fetch servers answer
      documentLoader: await ctx.getDocumentLoader({ identifier: HANDLE }),
      contextLoader: ctx.contextLoader,
    });
    if (recipient == null || !isActor(recipient)) {
      return json(res, 404, { error: `no actor at ${input.to}` });
    }
    gone = true;
    const bob = ctx.getActorUri(HANDLE);
    const activity = new Delete({
      id: new URL("#delete", bob),
      actor: bob,
      object: bob,
      to: new URL("https://www.w3.org/ns/activitystreams#Public"),
    });
    await ctx.sendActivity({ identifier: HANDLE }, recipient, activity);
    return json(res, 200, { id: activity.id.href });
  }
  return json(res, 404, { error: `no control endpoint ${path}` });
}

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const origin = `http://127.0.0.1:${server.address().port}`;
  const federation = buildFederation(origin);
  server.on("request", async (req, res) => {
    try {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      const url = new URL(req.url, origin);
      if (url.pathname.startsWith("/_test/")) {
        return await control(federation, origin, url.pathname, body, res);
      }
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        headers.set(name, Array.isArray(value) ? value.join(", ") : value);
      }
      const request = new Request(url, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      });
      const response = await federation.fetch(request, { contextData: undefined });
      if (req.method === "POST") {
        let activity = null;
        try {
          activity = JSON.parse(body.toString("utf-8")).id ?? null;
        } catch {
          // not JSON: recorded with no activity id
        }
        requests.push({ path: url.pathname, scheme: schemeOf(headers), status: response.status, activity });
      }
      const out = Buffer.from(await response.arrayBuffer());
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(out);
    } catch (error) {
      console.error(error);
      if (!res.headersSent) json(res, 500, { error: String(error?.stack ?? error) });
      else res.end();
    }
  });
  console.log(JSON.stringify({ port: server.address().port, origin }));
});
