// Usage at a glance.
import { h } from '../lib/dom.js';

export async function dashboard(app) {
  const s = await app.api('GET', '/stats');
  const card = (label, value, id) =>
    h('div', { class: 'card', id }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
  return [
    h('h1', {}, 'Dashboard'),
    h(
      'div',
      { class: 'cards' },
      card('Stored', s.total_storage_human, 'stat-storage'),
      card('Objects', s.objects.toLocaleString(), 'stat-objects'),
      card('Buckets', s.buckets, 'stat-buckets'),
      card('Credentials', s.credentials, 'stat-credentials'),
      card('Multipart uploads', s.active_multipart_uploads, 'stat-uploads'),
      card('Active presigned URLs', s.active_presigned_urls, 'stat-presigned'),
    ),
  ];
}
