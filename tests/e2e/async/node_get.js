// N parallel http.get of URL from one event loop; prints "elapsed_ms=T ok=K".
// Usage: node node_get.js URL N
const http = require('http');
const [url, n] = [process.argv[2], parseInt(process.argv[3], 10)];
const t0 = Date.now();
let ok = 0, done = 0;
const agent = new http.Agent({ keepAlive: false, maxSockets: 1000 });
for (let i = 0; i < n; i++) {
  http.get(url, { agent }, (res) => {
    res.resume();
    res.on('end', () => { if (res.statusCode === 200) ok++; finish(); });
  }).on('error', (e) => { console.log('error: ' + e.message); finish(); });
}
function finish() {
  if (++done < n) return;
  console.log(`elapsed_ms=${Date.now() - t0} ok=${ok}`);
  process.exit(ok === n ? 0 : 1);
}
setTimeout(() => { console.log('timeout'); process.exit(1); }, 30000);
