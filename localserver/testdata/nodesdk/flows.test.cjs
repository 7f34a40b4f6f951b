// The official CloudConvert Node SDK (cloudconvert@3.0.0, unchanged) against
// the local server: the flows its users write. Run by localserver's
// TestNodeSDK as
//
//   node --require ./localize.cjs --test --test-reporter=tap flows.test.cjs
//
// with CC_LOCAL_URL (the server), CLOUDCONVERT_API_KEY (its key), CC_OTHER_KEY
// (another user's key), CC_HOOK_SECRET (the secret of job webhook_url
// deliveries) and CC_INPUT_PNG (a PNG file) set.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const CloudConvert = require('cloudconvert');

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`set ${name}`);
    return v;
};
const apiKey = env('CLOUDCONVERT_API_KEY');
const otherKey = env('CC_OTHER_KEY');
const hookSecret = env('CC_HOOK_SECRET');
const pngPath = env('CC_INPUT_PNG');
const png = fs.readFileSync(pngPath);

// Every client made here, closed at the end so the process exits.
const clients = [];
const client = (key = apiKey, sandbox = true) => {
    const cc = new CloudConvert(key, sandbox);
    clients.push(cc);
    return cc;
};
after(() => clients.forEach((c) => c.closeSocket()));

// The SDK throws Error(statusText) with the fetch Response as cause.
async function rejection(promise) {
    try {
        await promise;
    } catch (e) {
        const res = e.cause;
        const body = res && typeof res.json === 'function' ? await res.json().catch(() => null) : null;
        return { status: res ? res.status : undefined, body, message: e.message };
    }
    throw new Error('expected the call to fail');
}

// settled resolves once the server has handled everything the SDK's socket
// emitted so far (the SDK offers no acknowledgement of its subscribe; an
// acknowledged no-op on the same connection comes back after it).
function settled(cc) {
    const acked = new Promise((resolve) => cc.socket.emit('unsubscribe', { channel: 'private-none' }, resolve));
    return Promise.race([acked, timeout(30000, () => `the realtime connection (connected: ${cc.socket.connected})`)]);
}

// timeout rejects after ms; what (a string, or a function read then) says
// what was awaited.
const timeout = (ms, what) =>
    new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`)), ms).unref());

// A webhook receiver on loopback: every POST, raw body and signature kept.
async function receiver() {
    const got = [];
    const waiters = [];
    const srv = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf-8');
            got.push({ path: req.url, raw, sig: req.headers['cloudconvert-signature'], body: JSON.parse(raw) });
            res.end('ok');
            waiters.splice(0).forEach((w) => w());
        });
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${srv.address().port}`;
    const until = async (cond, what) => {
        const deadline = Date.now() + 30000;
        while (!cond()) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(got.map((g) => [g.path, g.body.event]))}`);
            await new Promise((r) => {
                waiters.push(r);
                setTimeout(r, 200).unref();
            });
        }
    };
    after(() => srv.close());
    return { url, got, until };
}

const uploadJob = (tag) => ({
    tag,
    tasks: {
        'import-it': { operation: 'import/upload' },
        'export-it': { operation: 'export/url', input: 'import-it' }
    }
});

test('users.me returns the account', async () => {
    const me = await client().users.me();
    assert.equal(typeof me.id, 'number');
    for (const k of ['id', 'username', 'email', 'credits', 'created_at']) assert.ok(k in me, `user lacks ${k}`);
});

test('upload, wait, export and download a file', async () => {
    const cc = client();
    let job = await cc.jobs.create(uploadJob('nodesdk-upload'));
    const upload = job.tasks.find((t) => t.name === 'import-it');
    await cc.tasks.upload(upload, fs.createReadStream(pngPath), 'input.png');
    job = await cc.jobs.wait(job.id);
    assert.equal(job.status, 'finished');
    const [file] = cc.jobs.getExportUrls(job);
    assert.equal(file.filename, 'input.png');
    const res = await fetch(file.url);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), png);
    await cc.jobs.delete(job.id);
});

test('convert a PNG to JPG through import/base64', async () => {
    const cc = client();
    let job = await cc.jobs.create({
        tag: 'nodesdk-convert',
        tasks: {
            in: { operation: 'import/base64', file: png.toString('base64'), filename: 'in.png' },
            jpg: { operation: 'convert', input: 'in', output_format: 'jpg' },
            out: { operation: 'export/url', input: ['jpg'] }
        }
    });
    job = await cc.jobs.wait(job.id);
    assert.equal(job.status, 'finished', JSON.stringify(job.tasks.map((t) => [t.name, t.status, t.message])));
    const [file] = cc.jobs.getExportUrls(job);
    assert.equal(file.filename, 'in.jpg');
    const bytes = Buffer.from(await (await fetch(file.url)).arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], 'not a JPEG');
});

test('jobs.get, jobs.all and tasks.all with filters', async () => {
    const cc = client();
    const tag = `nodesdk-list-${Date.now()}`;
    const job = await cc.jobs.create(uploadJob(tag));
    const got = await cc.jobs.get(job.id);
    assert.equal(got.id, job.id);
    assert.equal(got.tasks.length, 2);
    const listed = await cc.jobs.all({ 'filter[tag]': tag });
    assert.deepEqual(listed.map((j) => j.id), [job.id]);
    const tasks = await cc.tasks.all({ 'filter[job_id]': job.id, 'filter[operation]': 'import/upload' });
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0].name, 'import-it');
    await cc.jobs.delete(job.id);
});

test('standalone tasks: create, wait, get, upload', async () => {
    const cc = client();
    let task = await cc.tasks.create('import/base64', { file: png.toString('base64'), filename: 'a.png' });
    assert.equal(task.job_id, null);
    task = await cc.tasks.wait(task.id);
    assert.equal(task.status, 'finished');
    assert.equal((await cc.tasks.get(task.id)).result.files[0].filename, 'a.png');
    let up = await cc.tasks.create('import/upload');
    await cc.tasks.upload(up, png, 'b.png');
    up = await cc.tasks.wait(up.id);
    assert.equal(up.result.files[0].filename, 'b.png');
});

test('tasks.cancel ends a waiting task with CANCELLED', async () => {
    const cc = client();
    const task = await cc.tasks.create('import/upload');
    const cancelled = await cc.tasks.cancel(task.id);
    assert.equal(cancelled.status, 'error');
    assert.equal(cancelled.code, 'CANCELLED');
    const again = await rejection(cc.tasks.cancel(task.id));
    assert.equal(again.status, 422);
});

test('tasks.retry (POST tasks/{id}/retry through the SDK) repeats a failed task', async () => {
    const cc = client();
    const task = await cc.tasks.create('import/upload');
    await cc.tasks.cancel(task.id);
    const retry = await cc.call('POST', `tasks/${task.id}/retry`);
    assert.equal(retry.retry_of_task_id, task.id);
    assert.notEqual(retry.id, task.id);
    assert.equal(retry.status, 'waiting');
    await cc.tasks.upload(retry, png, 'retried.png');
    const done = await cc.tasks.wait(retry.id);
    assert.equal(done.status, 'finished');
    assert.equal(done.result.files[0].filename, 'retried.png');
});

test('tasks.delete and jobs.delete remove them (404 afterwards)', async () => {
    const cc = client();
    const task = await cc.tasks.create('import/upload');
    await cc.tasks.delete(task.id);
    assert.equal((await rejection(cc.tasks.get(task.id))).status, 404);
    const job = await cc.jobs.create(uploadJob('nodesdk-delete'));
    await cc.jobs.delete(job.id);
    const gone = await rejection(cc.jobs.get(job.id));
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'NOT_FOUND');
});

test('errors: a bad key is 401, a bad job 422 with field errors', async () => {
    assert.equal((await rejection(client('not-a-key').users.me())).status, 401);
    const bad = await rejection(client().jobs.create({ tasks: { a: { operation: 'convert' } } }));
    assert.equal(bad.status, 422);
    assert.equal(bad.body.code, 'INVALID_DATA');
    assert.ok(Object.keys(bad.body.errors).length > 0);
});

test('a job webhook_url receives job.finished only, signed', async () => {
    const hooks = await receiver();
    const cc = client();
    const job = await cc.jobs.create({
        webhook_url: `${hooks.url}/job`,
        tasks: { in: { operation: 'import/base64', file: png.toString('base64'), filename: 'w.png' } }
    });
    await cc.jobs.wait(job.id);
    await hooks.until(() => hooks.got.length >= 1, 'job.finished');
    // A second job's end is the marker that nothing else was sent for the first.
    const marker = await cc.jobs.create({
        webhook_url: `${hooks.url}/marker`,
        tasks: { in: { operation: 'import/base64', file: 'aGk=', filename: 'm.txt' } }
    });
    await hooks.until(() => hooks.got.some((g) => g.path === '/marker'), 'the marker job');
    const forJob = hooks.got.filter((g) => g.path === '/job');
    assert.deepEqual(forJob.map((g) => g.body.event), ['job.finished']);
    assert.equal(forJob[0].body.job.id, job.id);
    assert.ok(cc.webhooks.verify(forJob[0].raw, forJob[0].sig, hookSecret), 'signature does not verify');
    assert.ok(!cc.webhooks.verify(forJob[0].raw, forJob[0].sig, 'wrong-secret'));
    await cc.jobs.delete(marker.id);
});

test('account webhooks: create, deliver with their own secret, list, delete', async () => {
    const hooks = await receiver();
    const cc = client();
    const hook = await cc.call('POST', 'webhooks', { url: `${hooks.url}/account`, events: ['job.created', 'job.finished'] });
    assert.ok(hook.id && hook.signing_secret);
    assert.deepEqual(hook.events, ['job.created', 'job.finished']);
    const job = await cc.jobs.create({ tasks: { in: { operation: 'import/base64', file: 'aGk=', filename: 'a.txt' } } });
    await hooks.until(() => hooks.got.filter((g) => g.body.job.id === job.id).length >= 2, 'job.created and job.finished');
    const events = hooks.got.filter((g) => g.body.job.id === job.id);
    assert.deepEqual(events.map((g) => g.body.event), ['job.created', 'job.finished']);
    for (const g of events) assert.ok(cc.webhooks.verify(g.raw, g.sig, hook.signing_secret), `${g.body.event}: bad signature`);
    const listed = await cc.call('GET', 'users/me/webhooks', { 'filter[url]': `${hooks.url}/account` });
    assert.deepEqual(listed.map((h) => h.id), [hook.id]);
    await cc.call('DELETE', `webhooks/${hook.id}`);
    assert.deepEqual(await cc.call('GET', 'users/me/webhooks', { 'filter[url]': `${hooks.url}/account` }), []);
});

test('jobs.subscribeEvent receives job.finished', async () => {
    const cc = client();
    const job = await cc.jobs.create(uploadJob('nodesdk-socket'));
    const finished = new Promise((resolve) => cc.jobs.subscribeEvent(job.id, 'finished', resolve));
    await settled(cc);
    await cc.tasks.upload(job.tasks.find((t) => t.name === 'import-it'), png, 'input.png');
    const event = await Promise.race([finished, timeout(30000, 'job.finished')]);
    assert.equal(event.job.id, job.id);
    assert.equal(event.job.status, 'finished');
    assert.equal(event.job.tasks.length, 2);
});

test('jobs.subscribeTaskEvent receives the job\'s task events', async () => {
    const cc = client();
    const job = await cc.jobs.create(uploadJob('nodesdk-task-events'));
    const seen = [];
    const bothFinished = new Promise((resolve) =>
        cc.jobs.subscribeTaskEvent(job.id, 'finished', (e) => {
            seen.push(e.task.name);
            if (seen.length === 2) resolve();
        })
    );
    await settled(cc);
    await cc.tasks.upload(job.tasks.find((t) => t.name === 'import-it'), png, 'input.png');
    await Promise.race([bothFinished, timeout(30000, 'two task.finished events')]);
    assert.deepEqual(seen.sort(), ['export-it', 'import-it']);
});

test('tasks.subscribeEvent receives task.finished and task.failed', async () => {
    const cc = client();
    const a = await cc.tasks.create('import/upload');
    const b = await cc.tasks.create('import/upload');
    const finished = new Promise((resolve) => cc.tasks.subscribeEvent(a.id, 'finished', resolve));
    const failed = new Promise((resolve) => cc.tasks.subscribeEvent(b.id, 'failed', resolve));
    await settled(cc);
    await cc.tasks.upload(a, png, 'a.png');
    await cc.tasks.cancel(b.id);
    const [fe, xe] = await Promise.race([Promise.all([finished, failed]), timeout(30000, 'task events')]);
    assert.equal(fe.task.id, a.id);
    assert.equal(fe.task.status, 'finished');
    assert.equal(xe.task.id, b.id);
    assert.equal(xe.task.code, 'CANCELLED');
});

test('users.subscribeJobEvent receives the account\'s job.created', async () => {
    const cc = client();
    const me = await cc.users.me();
    const created = new Promise((resolve) => cc.users.subscribeJobEvent(me.id, 'created', resolve));
    await settled(cc);
    const job = await cc.jobs.create(uploadJob('nodesdk-user-events'));
    const event = await Promise.race([created, timeout(30000, 'job.created')]);
    assert.equal(event.job.id, job.id);
    await cc.jobs.delete(job.id);
});

test('a subscription to another user\'s job is refused', async () => {
    const owner = client();
    const job = await owner.jobs.create(uploadJob('nodesdk-private'));
    const intruder = client(otherKey);
    const received = [];
    intruder.jobs.subscribeEvent(job.id, 'finished', (e) => received.push(e));
    const refused = new Promise((resolve) => intruder.socket.on('subscription_error', (channel, status) => resolve({ channel, status })));
    // Once the server has handled the subscribe, its refusal has been sent
    // (on the same connection, before the no-op's answer).
    await settled(intruder);
    const refusal = await Promise.race([refused, timeout(10000, 'subscription_error')]);
    assert.deepEqual(refusal, { channel: `private-job.${job.id}`, status: 403 });
    await owner.tasks.upload(job.tasks.find((t) => t.name === 'import-it'), png, 'input.png');
    await owner.jobs.wait(job.id);
    await settled(intruder);
    assert.deepEqual(received, []);
});
