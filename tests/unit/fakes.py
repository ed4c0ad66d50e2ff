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

"""Plain HostUsbDevice values for unit tests that need no udev at all."""

from nova_usb.virt import usb_device


def host_usb_device(**fields):
    values = dict(
        host='compute-1', vendor_id='1050', product_id='0407',
        vendor_name='Yubico', product_name='YubiKey OTP+FIDO+CCID',
        serial='0001234', bus=1, devnum=7, port_path='1-2', speed=12,
        device_class='00', interface_classes=('03', '0b'),
        is_root_hub=False, sys_path=None)
    values.update(fields)
    if values['sys_path'] is None:
        values['sys_path'] = ('/sys/devices/pci0000:00/0000:00:14.0/usb%d/%s'
                              % (values['bus'], values['port_path']))
    return usb_device.HostUsbDevice(**values)
