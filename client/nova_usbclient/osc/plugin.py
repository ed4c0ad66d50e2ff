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

"""The ``usb`` OpenStackClient plugin (``openstack.cli.extension``).

OpenStackClient loads this module for its settings, then the commands of
the ``openstack.usb.v1`` entry point group (``server usb ...``, ``server usb
controller ...``, ``usb device ...``), and calls :func:`make_client` once,
on first use, for the client those commands share.
"""

import logging

from osc_lib import utils

from nova_usbclient import api

LOG = logging.getLogger(__name__)

API_NAME = 'usb'
API_VERSION_OPTION = 'os_usb_api_version'
DEFAULT_API_VERSION = '1'
API_VERSIONS = ('1',)


def make_client(instance):
    """nova-usb's client on OpenStackClient's session.

    nova-usb's routes are in Nova's URL space, so its endpoint is the
    compute endpoint: from the service catalog, or the one the auth plugin
    fixes (``--os-endpoint`` of the ``admin_token`` and ``none`` types).
    """
    LOG.debug('nova-usb client on the compute endpoint, interface %s, '
              'region %s', instance.interface, instance.region_name)
    return api.Client(instance.session, interface=instance.interface,
                      region_name=instance.region_name)


def build_option_parser(parser):
    """OpenStackClient's convention: every plugin has a version option."""
    parser.add_argument(
        '--os-usb-api-version',
        metavar='<usb-api-version>',
        default=utils.env('OS_USB_API_VERSION'),
        help='nova-usb client version, default=%s (Env: OS_USB_API_VERSION)'
             % DEFAULT_API_VERSION)
    return parser
