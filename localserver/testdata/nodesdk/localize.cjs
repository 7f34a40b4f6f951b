// Points the official CloudConvert Node SDK at the local server without
// changing it: the SDK names its hosts itself (api, sync.api and socketio,
// live or sandbox), so this preload (node --require ./localize.cjs)
// rewrites those URLs in the two places the SDK reaches the network: the
// global fetch (REST, sync waits, uploads, downloads) and socket.io-client's
// io() (realtime events). CC_LOCAL_URL is the local server's root URL.
'use strict';

const local = process.env.CC_LOCAL_URL;
if (!local) {
    throw new Error('localize.cjs: set CC_LOCAL_URL to the local server (e.g. http://127.0.0.1:8080)');
}
const root = local.replace(/\/+$/, '');

// The SDK's hosts and where each is on the local server.
const hosts = [
    [/^https:\/\/sync\.api\.sandbox\.cloudconvert\.com\/v2\//, root + '/sync/v2/'],
    [/^https:\/\/([a-z-]+\.)?sync\.api\.cloudconvert\.com\/v2\//, root + '/sync/v2/'],
    [/^https:\/\/api\.sandbox\.cloudconvert\.com\/v2\//, root + '/v2/'],
    [/^https:\/\/([a-z-]+\.)?api\.cloudconvert\.com\/v2\//, root + '/v2/'],
    [/^https:\/\/socketio(\.sandbox)?\.cloudconvert\.com\/?$/, root]
];

function rewrite(url) {
    for (const [re, to] of hosts) {
        if (re.test(url)) {
            return url.replace(re, to);
        }
    }
    if (/cloudconvert\.com/.test(url)) {
        // Never let a test reach the real service.
        throw new Error(`localize.cjs: ${url} is a CloudConvert host this harness does not map`);
    }
    return url;
}

const realFetch = globalThis.fetch;
globalThis.fetch = function (input, init) {
    if (typeof input === 'string') {
        input = rewrite(input);
    } else if (input instanceof URL) {
        input = new URL(rewrite(input.href));
    } else if (input && typeof input.url === 'string') {
        input = new Request(rewrite(input.url), input);
    }
    return realFetch(input, init);
};

const sio = require('socket.io-client');
const realIo = sio.io;
// A connection attempt that gets no handshake is given up after 5 s and
// retried, not after socket.io-client's 20 s: under CI's -race load a
// handshake with the local server has stalled (rarely; the cause is not
// found), and a retried attempt connects inside the tests' 30 s waits. The
// Go sdk bounds its attempts the same way. An explicit timeout is kept.
sio.io = function (uri, opts) {
    opts = Object.assign({ timeout: 5000 }, opts);
    return realIo(typeof uri === 'string' ? rewrite(uri) : uri, opts);
};

module.exports = { rewrite };
