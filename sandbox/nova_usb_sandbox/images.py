#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.


"""The sandbox's image service: an embedded stand-in for glance.

Nova needs an image service to boot a server. The sandbox keeps its images
in memory and gives them to Nova where Nova's own functional tests put
their GlanceFixture: behind ``nova.image.glance`` (Nova calls the store
in-process, through the same interface as its glance client). Clients
(``openstack image list``, ``openstack server create --image``) see the
same store through a read-only subset of glance's Image API v2 served on
the sandbox's HTTP port.

The one image it starts with is a small raw disk of zeros: a real QEMU
guest booted from it stays in its firmware ("no bootable device"), which is
all a USB hot plug needs.
"""

import copy
import datetime
import hashlib
import json
import threading
import urllib.parse
import uuid

import fixtures
from nova import exception
from oslo_utils import timeutils

EMPTY_IMAGE_NAME = 'empty'
EMPTY_IMAGE_SIZE = 1024 * 1024
API_VERSION = '2.16'


class ImageStore(object):
    """Images and their bytes, with the methods nova.image.glance calls."""

    def __init__(self):
        self._lock = threading.Lock()
        self.images = {}
        self._data = {}

    # What nova.image.glance.API calls (the interface of Nova's
    # GlanceFixture, i.e. of nova.image.glance.GlanceImageServiceV2).

    def detail(self, context, **kwargs):
        with self._lock:
            return copy.deepcopy(list(self.images.values()))

    def show(self, context, image_id, include_locations=False,
             show_deleted=True):
        with self._lock:
            image = self.images.get(str(image_id))
            if image is None:
                raise exception.ImageNotFound(image_id=image_id)
            return copy.deepcopy(image)

    def download(self, context, image_id, data=None, dst_path=None,
                 trusted_certs=None):
        self.show(context, image_id)
        content = self._data.get(str(image_id), b'')
        if data:
            data.write(content)
        elif dst_path:
            with open(dst_path, 'wb') as out:
                out.write(content)
        return None if (data or dst_path) else iter([content])

    def create(self, context, metadata, data=None):
        image = copy.deepcopy(metadata)
        image.setdefault('id', str(uuid.uuid4()))
        content = data.read() if data is not None else b''
        now = timeutils.utcnow().replace(tzinfo=datetime.timezone.utc)
        image.setdefault('created_at', now)
        image.setdefault('updated_at', now)
        image.setdefault('deleted_at', None)
        image.setdefault('deleted', False)
        image.setdefault('status', 'active')
        image.setdefault('size', len(content))
        image.setdefault('checksum', hashlib.md5(
            content, usedforsecurity=False).hexdigest())
        image.setdefault('min_ram', 0)
        image.setdefault('min_disk', 0)
        image.setdefault('properties', {})
        with self._lock:
            if image['id'] in self.images:
                raise exception.CouldNotUploadImage(image_id=image['id'])
            self.images[image['id']] = image
            self._data[image['id']] = content
        return copy.deepcopy(image)

    def update(self, context, image_id, metadata, data=None,
               purge_props=False):
        with self._lock:
            image = self.images.get(image_id)
            if image is None:
                raise exception.ImageNotFound(image_id=image_id)
            metadata = copy.deepcopy(metadata)
            if purge_props:
                image['properties'] = {}
            image['properties'].update(metadata.pop('properties', {}))
            image.update(metadata)
            if data is not None:
                self._data[image_id] = data.read()
            return copy.deepcopy(image)

    def delete(self, context, image_id):
        with self._lock:
            if self.images.pop(image_id, None) is None:
                raise exception.ImageNotFound(image_id=image_id)
            self._data.pop(image_id, None)

    def get_location(self, context, image_id):
        return None

    # The sandbox's own

    def add_empty_image(self):
        """The image the sandbox boots its servers from."""
        return self.create(None, {
            'name': EMPTY_IMAGE_NAME,
            'is_public': True,
            'visibility': 'public',
            'protected': False,
            'tags': [],
            'container_format': 'bare',
            'disk_format': 'raw',
            'owner': 'admin',
            'properties': {
                'architecture': 'x86_64',
                'description': 'zeros: the guest sits in its firmware',
            },
        }, data=_Bytes(b'\0' * EMPTY_IMAGE_SIZE))

    def install(self, harness):
        """Make nova.image.glance call this store, as GlanceFixture does."""
        harness.useFixture(fixtures.MonkeyPatch(
            'nova.image.glance.API.get_remote_image_service',
            lambda context, image_href: (self, image_href)))
        harness.useFixture(fixtures.MonkeyPatch(
            'nova.image.glance.get_default_image_service', lambda: self))


class _Bytes(object):

    def __init__(self, data):
        self._data = data

    def read(self):
        return self._data


def _iso(value):
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%dT%H:%M:%SZ')
    return value


def image_view(image):
    """An image as glance's Image API v2 shows it."""
    view = {
        'id': image['id'],
        'name': image.get('name'),
        'status': image.get('status'),
        'visibility': image.get('visibility', 'public'),
        'protected': image.get('protected', False),
        'os_hidden': False,
        'tags': image.get('tags', []),
        'container_format': image.get('container_format'),
        'disk_format': image.get('disk_format'),
        'size': image.get('size'),
        'virtual_size': image.get('size'),
        'checksum': image.get('checksum'),
        'min_ram': image.get('min_ram', 0),
        'min_disk': image.get('min_disk', 0),
        'owner': image.get('owner'),
        'created_at': _iso(image.get('created_at')),
        'updated_at': _iso(image.get('updated_at')),
        'self': '/v2/images/%s' % image['id'],
        'file': '/v2/images/%s/file' % image['id'],
        'schema': '/v2/schemas/image',
    }
    for key, value in image.get('properties', {}).items():
        view.setdefault(key, value)
    return view


class ImageAPI(object):
    """Read-only glance Image API v2 over an ImageStore (WSGI app).

    Enough for clients to find images by name or id and list them: the
    version document, GET /v2/images (filters name, id, status,
    visibility), GET /v2/images/{id} and its file, and open schemas for
    glanceclient. Writes are refused
    with 405: images are added by the sandbox itself.
    """

    FILTERS = ('name', 'id', 'status', 'visibility')

    def __init__(self, store):
        self.store = store

    def __call__(self, environ, start_response):
        method = environ['REQUEST_METHOD']
        path = environ.get('PATH_INFO', '').rstrip('/')
        base = _base_url(environ)
        if path == '':
            return _json(start_response, '300 Multiple Choices', {
                'versions': [_version(base)]})
        if path == '/v2':
            return _json(start_response, '200 OK', {
                'version': _version(base)})
        if path in ('/v2/schemas/image', '/v2/schemas/images'):
            # glanceclient (Horizon's) builds its models from these.
            return _json(start_response, '200 OK', {
                'name': path.rsplit('/', 1)[1], 'properties': {},
                'additionalProperties': {'type': 'string'}})
        parts = path.split('/')[1:]
        if parts[:2] != ['v2', 'images'] or len(parts) > 4:
            return _json(start_response, '404 Not Found', _fault(
                404, 'The sandbox image service serves /v2/images only.'))
        if method not in ('GET', 'HEAD'):
            return _json(start_response, '405 Method Not Allowed', _fault(
                405, 'The sandbox image service is read-only.'))
        if len(parts) == 2:
            return _json(start_response, '200 OK', self._index(environ))
        try:
            image = self.store.show(None, parts[2])
        except exception.ImageNotFound:
            return _json(start_response, '404 Not Found', _fault(
                404, 'No image with ID %s.' % parts[2]))
        if len(parts) == 3:
            return _json(start_response, '200 OK', image_view(image))
        if parts[3] != 'file':
            return _json(start_response, '404 Not Found', _fault(
                404, 'Not found.'))
        content = self.store._data.get(image['id'], b'')
        start_response('200 OK', [
            ('Content-Type', 'application/octet-stream'),
            ('Content-Length', str(len(content)))])
        return [content]

    def _index(self, environ):
        query = urllib.parse.parse_qs(environ.get('QUERY_STRING', ''))
        images = [image_view(i) for i in self.store.detail(None)]
        for key in self.FILTERS:
            if key in query:
                wanted = set()
                for value in query[key]:
                    # glance's "in:" operator: id=in:ID1,ID2
                    if value.startswith('in:'):
                        wanted.update(value[3:].split(','))
                    else:
                        wanted.add(value)
                images = [i for i in images if i.get(key) in wanted]
        images.sort(key=lambda i: (i['created_at'] or '', i['id']),
                    reverse=True)
        return {'images': images, 'first': '/v2/images',
                'schema': '/v2/schemas/images'}


def _base_url(environ):
    host = environ.get('HTTP_HOST') or '%s:%s' % (
        environ['SERVER_NAME'], environ['SERVER_PORT'])
    return 'http://%s%s' % (host, environ.get('SCRIPT_NAME', ''))


def _version(base):
    return {'id': 'v' + API_VERSION, 'status': 'CURRENT',
            'links': [{'rel': 'self', 'href': base + '/v2/'}]}


def _fault(code, message):
    return {'code': code, 'title': message, 'message': message}


def _json(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))])
    return [data]
