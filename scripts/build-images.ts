/** scripts/build-images: the Debian base (pulled or bootstrapped), then the gateway, postgres and nginx images. */
import { buildImages } from './lib/images.js';
import { parseCli } from './lib/cli.js';

parseCli({
  usage: `usage: npm run build-images

Builds coffer/gateway, coffer/postgres and coffer/nginx from debian:trixie-slim. The base is pulled
where a registry answers and bootstrapped with debootstrap + docker import where none does.`,
  options: {},
});
await buildImages();
console.log('images built');
