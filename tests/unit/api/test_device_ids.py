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

"""The API takes exactly the device ids nova_usb.virt.usb_device issues."""

import uuid

import hypothesis
from hypothesis import strategies as st
from nova.api.validation import validators
from oslotest import base
import webob

from nova_usb.api import schemas
from nova_usb.virt import usb_device

HEX4 = st.text('0123456789abcdef', min_size=4, max_size=4)


def validate(device_id):
    """Whether the attach body schema takes ``device_id``."""
    validator = validators._SchemaValidator(schemas.attach)
    try:
        validator.validate({'usb_device': {'id': device_id}})
    except Exception:
        return False
    return True


class DeviceIdsTestCase(base.BaseTestCase):

    @hypothesis.settings(max_examples=200, deadline=None, database=None)
    @hypothesis.given(st.text(min_size=1), HEX4, HEX4,
                      st.none() | st.text(), st.text(min_size=1))
    def test_every_issued_id_is_taken(self, host, vendor, product, serial,
                                      port_path):
        device_id = usb_device.device_id(host, vendor, product,
                                         serial=serial, port_path=port_path)
        self.assertTrue(schemas.is_device_id(device_id))
        self.assertTrue(validate(device_id))

    def test_other_spellings_are_not(self):
        issued = usb_device.device_id('compute1', '1050', '0407',
                                      serial='YK0001')
        self.assertTrue(validate(issued))
        for other in (issued.upper(), issued + '\n', '{%s}' % issued,
                      uuid.UUID(issued).hex, str(uuid.uuid4()),
                      str(uuid.uuid3(uuid.NAMESPACE_DNS, 'x')),
                      str(uuid.uuid1()), '', 'x' * 36, None, 7):
            self.assertFalse(schemas.is_device_id(other), other)
            self.assertFalse(validate(other), other)

    def test_path_ids_are_the_whole_last_segment(self):
        issued = usb_device.device_id('compute1', '1050', '0407',
                                      serial='YK0001')
        path = '/servers/s/os-usb-devices/'
        self.assertTrue(schemas.is_path_device_id(
            webob.Request.blank(path + issued), issued))
        # What the router makes of a path that ends in a newline.
        self.assertFalse(schemas.is_path_device_id(
            webob.Request.blank(path + issued + '%0A'), issued))
        self.assertFalse(schemas.is_path_device_id(
            webob.Request.blank(path + issued.upper()), issued.upper()))
