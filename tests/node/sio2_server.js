#!/usr/bin/env node
// A Socket.IO 2.x (Engine.IO v3) server for presencectl's loopback tests,
// shaped like Avaya Spaces: namespace /chat, SUBSCRIBE_CHANNEL answered with
// CHANNEL_SUBSCRIBED, then PRESENCE_EVENT_RESPONSE events.
//
//   node sio2_server.js --payloads FILE [--port 0] [--ping-interval 1000]
//       [--ping-timeout 1000] [--gap 800] [--namespace /chat] [--token T]
//       [--end none|disconnect|close] [--lib socket.io|socket.io-v4]
//
// --lib socket.io-v4 serves with Socket.IO 4.x (Engine.IO v4 only; the token
// is then read from the CONNECT packet's auth, else from the query).
// It prints one JSON object per line on stdout: {"listening": PORT} first,
// then {"connection": ns, "query": {...}}, {"received": EVENT, "args": [...]},
// {"sent": EVENT}, {"disconnect": ns, "reason": "..."} as things happen.
"use strict";

const fs = require("fs");
const http = require("http");

function options(argv) {
  const opts = {
    port: 0, pingInterval: 1000, pingTimeout: 1000, gap: 800,
    namespace: "/chat", payloads: null, token: null, end: "none", lib: "socket.io",
  };
  for (let i = 2; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(name in opts)) throw new Error(`unknown option ${argv[i]}`);
    const value = argv[i + 1];
    opts[name] = typeof opts[name] === "number" ? Number(value) : value;
  }
  return opts;
}

const opts = options(process.argv);
const payloads = opts.payloads
  ? fs.readFileSync(opts.payloads, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l))
  : [];
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const server = http.createServer();
const io = require(opts.lib)(server, {
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  serveClient: false,
  cookie: false,
});

const nsp = io.of(opts.namespace);
if (opts.token !== null) {
  nsp.use((socket, next) => {
    const auth = socket.handshake.auth || {};
    if ((auth.token || socket.handshake.query.token) === opts.token) return next();
    say({ refused: opts.namespace, query: socket.handshake.query, auth });
    next(new Error("not authorized"));
  });
}

nsp.on("connection", (socket) => {
  say({ connection: opts.namespace, query: socket.handshake.query, auth: socket.handshake.auth || null });
  const timers = [];
  socket.on("disconnect", (reason) => {
    timers.forEach(clearTimeout);
    say({ disconnect: opts.namespace, reason });
  });
  socket.on("SUBSCRIBE_CHANNEL", (...args) => {
    say({ received: "SUBSCRIBE_CHANNEL", args });
    socket.emit("CHANNEL_SUBSCRIBED", args[0]);
    payloads.forEach((payload, i) => {
      timers.push(setTimeout(() => {
        socket.emit("PRESENCE_EVENT_RESPONSE", payload);
        say({ sent: "PRESENCE_EVENT_RESPONSE", index: i });
        if (i === payloads.length - 1 && opts.end !== "none") {
          timers.push(setTimeout(() => socket.disconnect(opts.end === "close"), 100));
        }
      }, (i + 1) * opts.gap));
    });
  });
});

io.of("/").on("connection", (socket) => {
  socket.on("disconnect", (reason) => say({ disconnect: "/", reason }));
});

server.listen(opts.port, "127.0.0.1", () => say({ listening: server.address().port }));
process.on("SIGTERM", () => process.exit(0));
