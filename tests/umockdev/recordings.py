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

"""What the four real recordings hold, read off them by hand.

Shared by the enumeration tests and the nova-usb-manage tests, so both
compare against the recordings, not against each other.
"""

# port path, vendor id, product id, vendor name, product name, serial,
# devnum, speed, device class, interface classes; in port order.
EXPECTED = {
    'canon-powershot-sx200': [
        ('usb1', '1d6b', '0002', 'Linux 3.5.0-7-generic ehci_hcd',
         'EHCI Host Controller', '0000:00:1a.0', 1, 480, '09', ('09',)),
        # Intel's rate matching hub and Lenovo's hub have no strings and
        # this recording has no hwdb names for them.
        ('1-1', '8087', '0020', None, None, None, 2, 480, '09', ('09',)),
        ('1-1.5', '17ef', '1005', None, None, None, 3, 480, '09', ('09',)),
        ('1-1.5.2', '0409', '0058', 'NEC Corporation',
         'USB2.0 Hub Controller', None, 5, 480, '09', ('09',)),
        ('1-1.5.2.3', '04a9', '31c0', 'Canon Inc.', 'Canon Digital Camera',
         'C767F1C714174C309255F70E4A7B2EE2', 11, 480, '00', ('06',)),
    ],
    'sony-xperia-mini-pro': [
        ('usb1', '1d6b', '0002', 'Linux 3.8.0-1-generic ehci_hcd',
         'EHCI Host Controller', '0000:00:1a.0', 1, 480, '09', ('09',)),
        ('1-1', '8087', '0020', None, None, None, 2, 480, '09', ('09',)),
        ('1-1.5', '17ef', '1005', None, None, None, 11, 480, '09',
         ('09',)),
        ('1-1.5.2', '0409', '0058', 'NEC Corporation',
         'USB2.0 Hub Controller', None, 20, 480, '09', ('09',)),
        ('1-1.5.2.4', '0fce', '0166', 'Sony', 'MiniPro',
         '0123456789ABCDEF', 24, 480, '00', ('ff',)),
    ],
    'usbkbd': [
        ('usb1', '1d6b', '0002', 'Linux 3.10.0-2-generic ehci_hcd',
         'EHCI Host Controller', '0000:00:1a.0', 1, 480, '09', ('09',)),
        # No strings on the device: the names come from udev's hwdb.
        ('1-1', '8087', '0020', 'Intel Corp.',
         'Integrated Rate Matching Hub', None, 2, 480, '09', ('09',)),
        ('1-1.5', '17ef', '1005', 'Lenovo', None, None, 4, 480, '09',
         ('09',)),
        ('1-1.5.4', '05f3', '0081', 'PI Engineering',
         'Kinesis Keyboard Hub', None, 7, 12, '09', ('09',)),
        ('1-1.5.4.2', '05f3', '0007', 'PI Engineering, Inc.',
         'Kinesis Advantage PRO MPC/USB Keyboard', None, 9, 12, '00',
         ('03',)),
    ],
    'fido2': [
        ('usb1', '1d6b', '0002', 'Linux 5.13.16-200.fc34.x86_64 xhci-hcd',
         'xHCI Host Controller', '0000:05:00.3', 1, 480, '09', ('09',)),
        ('1-2', '0bda', '5411', 'Generic', '4-Port USB 2.0 Hub', None, 2,
         480, '09', ('09',)),
        ('1-2.3', '1050', '0120', 'Yubico', 'Security Key by Yubico', None,
         12, 12, '00', ('03',)),
    ],
}

SYS_PATHS = {
    'canon-powershot-sx200': '/sys/devices/pci0000:00/0000:00:1a.0/usb1/'
                             '1-1/1-1.5/1-1.5.2/1-1.5.2.3',
    'sony-xperia-mini-pro': '/sys/devices/pci0000:00/0000:00:1a.0/usb1/'
                            '1-1/1-1.5/1-1.5.2/1-1.5.2.4',
    'usbkbd': '/sys/devices/pci0000:00/0000:00:1a.0/usb1/1-1/1-1.5/'
              '1-1.5.4/1-1.5.4.2',
    'fido2': '/sys/devices/pci0000:00/0000:00:08.1/0000:05:00.3/usb1/'
             '1-2/1-2.3',
}
