#!/usr/bin/env node
// A Socket.IO 2.x client (Engine.IO v3, WebSocket transport) for presencectl's
// loopback tests: prints every event it receives as one JSON line.
//
//   node sio2_client.js URL [--count N] [--timeout MS] [--polling]
//       [--lib socket.io-client|socket.io-client-v4]
//
// URL is Socket.IO style: http://127.0.0.1:PORT/chat joins namespace /chat.
// Lines: {"connected": true}, {"event": NAME, "args": [...]} (binary
// arguments as {"$binary": BASE64}), {"disconnect": REASON},
// {"error": MESSAGE}. Exits 0 after N events or on a disconnect, 1 on error
// or timeout.
"use strict";

const url = process.argv[2];
let lib = "socket.io-client";
let count = Infinity;
let timeout = 20000;
let transports = ["websocket"];
for (let i = 3; i < process.argv.length; i++) {
  const arg = process.argv[i];
  if (arg === "--count") count = Number(process.argv[++i]);
  else if (arg === "--timeout") timeout = Number(process.argv[++i]);
  else if (arg === "--polling") transports = ["polling", "websocket"];
  else if (arg === "--lib") lib = process.argv[++i];
  else throw new Error(`unknown option ${arg}`);
}

const io = require(lib);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const plain = (value) => {
  if (Buffer.isBuffer(value)) return { $binary: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $binary: Buffer.from(value).toString("base64") };
  return value;
};

const socket = io(url, { transports, reconnection: false, forceNew: true });
let seen = 0;
const timer = setTimeout(() => { say({ error: "timeout" }); process.exit(1); }, timeout);
const finish = (code) => { clearTimeout(timer); socket.close(); setTimeout(() => process.exit(code), 50); };

const seeing = (name, args) => {
  say({ event: name, args: args.map(plain) });
  seen += 1;
  if (seen >= count) finish(0);
};
if (typeof socket.onAny === "function") {
  socket.onAny((name, ...args) => seeing(name, args)); // 3.x and later
} else {
  const onevent = socket.onevent;
  socket.onevent = function (packet) {
    const data = packet.data || [];
    seeing(data[0], data.slice(1));
    return onevent.call(this, packet);
  };
}
socket.on("connect", () => say({ connected: true }));
socket.on("error", (err) => { say({ error: String(err && err.message ? err.message : err) }); finish(1); });
socket.on("connect_error", (err) => { say({ error: String(err && err.message ? err.message : err) }); finish(1); });
socket.on("disconnect", (reason) => { say({ disconnect: reason }); finish(0); });
