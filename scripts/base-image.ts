/** scripts/base-image: debian:trixie-slim, pulled where a registry answers, bootstrapped with debootstrap where none does. */
import { BASE_IMAGE, ensureBaseImage } from './lib/images.js';
import { parseCli } from './lib/cli.js';

const { values: argv } = parseCli({
  usage: `usage: npm run base-image -- [--mirror URL]

Makes ${BASE_IMAGE} available to docker build: nothing to do when it exists, docker pull where a registry
answers, otherwise debootstrap --variant=minbase trixie (root) and
docker import under the same tag. The mirror is --mirror URL, else DEBIAN_MIRROR, else the one this
host's apt uses (/etc/apt/sources.list and sources.list.d/*.list, *.sources), else deb.debian.org.`,
  options: { mirror: { type: 'string' } },
});
const how = await ensureBaseImage(argv.mirror ? String(argv.mirror) : undefined);
console.log(`${BASE_IMAGE}: ${how}`);
