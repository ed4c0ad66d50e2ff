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

import oslo_messaging as messaging
from oslotest import base

from nova_usb import exception
from nova_usb import rpc


class ReraiseTestCase(base.BaseTestCase):
    """On a real message queue, nova-usb's errors arrive as RemoteError:
    nova-api's transport only rebuilds Nova's own exception modules.
    """

    def call(self, error):
        @rpc._reraise_usb_errors
        def remote():
            raise error
        return remote

    def test_usb_errors_are_rebuilt_with_their_message_and_code(self):
        remote = self.call(messaging.RemoteError(
            'UsbDeviceInUse', 'USB device d is held by server s.', ''))
        error = self.assertRaises(exception.UsbDeviceInUse, remote)
        self.assertEqual('USB device d is held by server s.', str(error))
        self.assertEqual(409, error.code)

    def test_other_errors_pass_unchanged(self):
        for exc_type in ('ValueError', 'NovaUsbNoSuchThing', None):
            remote = self.call(messaging.RemoteError(exc_type, 'boom', ''))
            self.assertRaises(messaging.RemoteError, remote)
