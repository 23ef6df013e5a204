/** scripts/build-images: the Debian base (pulled or bootstrapped), then the gateway, postgres and nginx images. */
import { argv } from 'zx';
import { buildImages } from './lib/images.js';

if (argv.help || argv.h) {
  console.log(`usage: npm run build-images

Builds coffer/gateway, coffer/postgres and coffer/nginx from debian:trixie-slim. The base is pulled
where a registry answers and bootstrapped with debootstrap + docker import where none does.`);
  process.exit(0);
}
await buildImages();
console.log('images built');
