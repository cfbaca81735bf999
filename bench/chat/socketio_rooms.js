// The comparison peer of the chat benchmark: a plain socket.io rooms chat, no persistence.
// It extends the socket.io broadcast peer of ../shared/peers with rooms, and runs against that
// scratch copy's node_modules (bench/chat/run.sh sets NODE_PATH); nothing of the peer is copied.
//
//   client -> 42["join", room]            server -> 42["joined", room]
//   client -> 42["msg", {room, seq, text}] server -> 42["msg", {...}] to the room's others,
//                                                     42["ack", seq] to the sender
// The same work as bellhop's chat minus the store: join, broadcast to the room but the sender,
// acknowledge the sender.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.env.PORT || 9012);
const host = process.env.HOST || '127.0.0.1';

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.end(JSON.stringify({ conns: io.engine.clientsCount }) + '\n');
    return;
  }
  res.statusCode = 404;
  res.end('not found\n');
});

const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
});

io.on('connection', (socket) => {
  socket.on('join', (room) => {
    if (typeof room !== 'string') return;
    socket.join(room);
    socket.emit('joined', room);
  });
  socket.on('msg', (m) => {
    if (!m || typeof m.room !== 'string' || !socket.rooms.has(m.room)) return;
    const out = { room: m.room, seq: m.seq, text: m.text, user: socket.id, ts: Date.now() };
    socket.to(m.room).emit('msg', out);
    socket.emit('ack', m.seq);
  });
});

server.listen(port, host, 4096, () => {
  console.error(`socket.io rooms chat on ${host}:${port} (socket.io ${require('socket.io/package.json').version}, node ${process.version})`);
});
