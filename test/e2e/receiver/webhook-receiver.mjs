// A webhook receiver run in its own container beside a deployment (the gateway image, for its Node):
// HTTPS with a certificate from the deployment's CA, records each POST to /hook with its headers, and
// lists them on GET /received for the test.
import { readFileSync } from 'node:fs';
import https from 'node:https';

const dir = '/receiver';
const received = [];
const server = https.createServer(
  { key: readFileSync(`${dir}/receiver.key`), cert: readFileSync(`${dir}/receiver.crt`) },
  (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/hook') {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end();
      } else if (req.method === 'GET' && req.url === '/received') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received));
      } else res.writeHead(404).end();
    });
  },
);
server.listen(8443, () => console.log('receiver listening'));
