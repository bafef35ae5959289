// ws_client.mjs - a WebSocket client for the integration tests, on Node 22's
// built-in WebSocket: connects to URL, prints each text message as one line
// of JSON on stdout, and exits 0 once it has seen at least N messages of
// every kind named (feedback=N, notification=N), 1 on a deadline (10 s), an
// error or a close before that.
// Usage: node ws_client.mjs URL kind=N [kind=N ...]
const [url, ...wants] = process.argv.slice(2);
const want = Object.fromEntries(wants.map((w) => {
	const [k, n] = w.split('=');
	return [k, Number(n)];
}));
const seen = {};
const done = () => Object.entries(want).every(([k, n]) => (seen[k] || 0) >= n);
const ws = new WebSocket(url);
const timer = setTimeout(() => {
	console.error(`ws_client: deadline; seen ${JSON.stringify(seen)}`);
	process.exit(1);
}, 10000);
ws.onmessage = (m) => {
	const msg = JSON.parse(m.data);
	console.log(JSON.stringify(msg));
	seen[msg.kind] = (seen[msg.kind] || 0) + 1;
	if (done()) {
		clearTimeout(timer);
		ws.close(1000);
		process.exitCode = 0;
	}
};
ws.onerror = (e) => {
	console.error(`ws_client: error ${e.message || e.type}`);
	process.exit(1);
};
ws.onclose = (e) => {
	if (!done()) {
		console.error(`ws_client: closed (${e.code}) before done; seen ${JSON.stringify(seen)}`);
		process.exit(1);
	}
};
