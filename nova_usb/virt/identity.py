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

"""Whether a device that comes back under a server's device id is the
same kind of device: its interface classes, recorded at attach.
"""

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

REASON_OTHER_INTERFACES = (
    'changed since attach: other interfaces (classes %(recorded)s at '
    'attach, %(now)s now); %(remedy)s')
REMEDY_ATTACH_AGAIN = 'detach and attach it again if it is the same device'
# A device the flavor gives cannot be detached through the API.
REMEDY_RESIZE = ('resize the server to a flavor without it, and back, if it '
                 'is the same device')


def _classes(classes):
    return ' '.join(sorted(classes)) or 'none'


def other_interfaces_reason(request, device):
    """Why ``device`` is not given for ``request`` although its id is the
    requested one, or None.

    A device id is vendor, product and serial, which anything that copies
    a device's descriptor repeats; what the device can do is in its
    interfaces. A device that comes back under the id of the server's
    device but with other interface classes (a bank token that now has a
    keyboard interface too) may be another device: it is kept from the
    server until an operator, who can look at it, attaches it again.
    Requests stored before the classes were recorded cannot be checked.
    """
    if request.interface_classes is None:
        return None
    if set(request.interface_classes) == set(device.interface_classes):
        return None
    return REASON_OTHER_INTERFACES % {
        'recorded': _classes(request.interface_classes),
        'now': _classes(device.interface_classes),
        'remedy': (REMEDY_RESIZE if request.allocated
                   else REMEDY_ATTACH_AGAIN)}


def log_unchecked(request, instance_uuid):
    """Say so when a device goes to a server without its interfaces
    checked (a request stored before they were recorded).
    """
    if request.interface_classes is not None:
        return
    LOG.info('USB device %s is given to the server without checking its '
             'interfaces: they were not recorded when the server got it '
             '(%s)', request.id,
             'they are recorded at the server\'s next rebuild, resize or '
             'unshelve'
             if request.allocated else
             'detach and attach it again to have them recorded',
             instance_uuid=instance_uuid)
