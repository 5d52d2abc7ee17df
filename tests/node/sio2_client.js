#!/usr/bin/env node
// A Socket.IO 2.x client (Engine.IO v3, WebSocket transport) for presencectl's
// loopback tests: prints every event it receives as one JSON line.
//
//   node sio2_client.js URL [--count N] [--timeout MS] [--polling]
//
// URL is Socket.IO style: http://127.0.0.1:PORT/chat joins namespace /chat.
// Lines: {"connected": true}, {"event": NAME, "args": [...]} (binary
// arguments as {"$binary": BASE64}), {"disconnect": REASON},
// {"error": MESSAGE}. Exits 0 after N events or on a disconnect, 1 on error
// or timeout.
"use strict";

const io = require("socket.io-client");

const url = process.argv[2];
let count = Infinity;
let timeout = 20000;
let transports = ["websocket"];
for (let i = 3; i < process.argv.length; i++) {
  const arg = process.argv[i];
  if (arg === "--count") count = Number(process.argv[++i]);
  else if (arg === "--timeout") timeout = Number(process.argv[++i]);
  else if (arg === "--polling") transports = ["polling", "websocket"];
  else throw new Error(`unknown option ${arg}`);
}

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

const onevent = socket.onevent;
socket.onevent = function (packet) {
  const args = (packet.data || []).map(plain);
  say({ event: args[0], args: args.slice(1) });
  seen += 1;
  if (seen >= count) finish(0);
  return onevent.call(this, packet);
};
socket.on("connect", () => say({ connected: true }));
socket.on("error", (err) => { say({ error: String(err && err.message ? err.message : err) }); finish(1); });
socket.on("connect_error", (err) => { say({ error: String(err && err.message ? err.message : err) }); finish(1); });
socket.on("disconnect", (reason) => { say({ disconnect: reason }); finish(0); });
