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

"""Nova's own libvirt functional tests, run with nova-usb's compute driver.

Each module here reruns one module of ``nova.tests.functional.libvirt`` from
the installed Nova, unchanged, except that every compute service its tests
start loads ``usb_libvirt.LibvirtUsbDriver`` instead of
``libvirt.LibvirtDriver``, with the default ``[usb]`` options (no device is
assignable). A server with no USB device must behave under nova-usb's driver
exactly as under Nova's.
"""
