/**
 * Test fixture: an APKINDEX in real syntax, modelled on Alpine v3.20 x86_64
 * `main` (names, versions, fields and the shape of D:/p:/i:/k: as Alpine
 * writes them; checksums and sizes are made up). Used by the index parser and
 * the solver tests.
 */
export const MAIN_APKINDEX = `C:Q1pnXmBGfnIwxlVu3MG+SMeJRp9aM=
P:musl
V:1.2.5-r0
A:x86_64
S:410365
I:662528
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1711974484
c:0efa4d7fb0a8d5b39b2d7a3e6d7e0b5f1c8c0e7a
p:so:libc.musl-x86_64.so.1=1

C:Q1LxBvJ/ofKKik4CrrENc7ePnJsko=
P:busybox
V:1.36.1-r29
A:x86_64
S:516223
I:946176
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1717412178
c:e5b6b3b5d9c8e2f0a2d9c6b0f1e4a7d3c2b1a0f9
D:so:libc.musl-x86_64.so.1
p:cmd:busybox=1.36.1-r29

C:Q1lwbT7Lm6vhrUIIGOxpGJ7g/9mlk=
P:busybox-binsh
V:1.36.1-r29
A:x86_64
S:1592
I:1
T:busybox ash /bin/sh
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1717412178
c:e5b6b3b5d9c8e2f0a2d9c6b0f1e4a7d3c2b1a0f9
k:100
D:busybox=1.36.1-r29
p:/bin/sh cmd:sh=1.36.1-r29

C:Q18zGZY3INIpPtUEux9cHEqHkUejQ=
P:dash
V:0.5.12-r3
A:x86_64
S:62147
I:98304
T:Small and fast POSIX-compliant shell
U:http://gondor.apana.org.au/~herbert/dash/
L:BSD-3-Clause AND GPL-2.0-or-later
o:dash
m:Natanael Copa <ncopa@alpinelinux.org>
t:1711974484
c:7d62f2c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5
D:so:libc.musl-x86_64.so.1
p:cmd:dash=0.5.12-r3

C:Q1vdX9oegwmu8kP4zEMrsYOR7x9A8=
P:dash-binsh
V:0.5.12-r3
A:x86_64
S:1441
I:1
T:dash as /bin/sh
U:http://gondor.apana.org.au/~herbert/dash/
L:BSD-3-Clause AND GPL-2.0-or-later
o:dash
m:Natanael Copa <ncopa@alpinelinux.org>
t:1711974484
c:7d62f2c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5
k:60
D:dash=0.5.12-r3
p:/bin/sh cmd:sh=0.5.12-r3

C:Q1MribE+u5tZTbMdB1Rg0n1en4WuE=
P:alpine-baselayout
V:3.6.5-r0
A:x86_64
S:8839
I:57344
T:Alpine base dir structure and init scripts
U:https://git.alpinelinux.org/cgit/aports/tree/main/alpine-baselayout
L:GPL-2.0-only
o:alpine-baselayout
m:Natanael Copa <ncopa@alpinelinux.org>
t:1714981535
c:66187892e05b03a41d08e9acabd19b7576a1c875
D:alpine-baselayout-data=3.6.5-r0 /bin/sh

C:Q1e8g0O9nH1T8QFjvpAQKTzXBhSCE=
P:alpine-baselayout-data
V:3.6.5-r0
A:x86_64
S:11235
I:77824
T:Alpine base dir structure and init scripts
U:https://git.alpinelinux.org/cgit/aports/tree/main/alpine-baselayout
L:GPL-2.0-only
o:alpine-baselayout
m:Natanael Copa <ncopa@alpinelinux.org>
t:1714981535
c:66187892e05b03a41d08e9acabd19b7576a1c875

C:Q17Lsj4pmf5prwbtJlJWYybmQ/MMc=
P:alpine-base
V:3.20.3-r0
A:x86_64
S:1493
I:4096
T:Meta package for minimal alpine base
U:https://alpinelinux.org
L:MIT
o:alpine-base
m:Natanael Copa <ncopa@alpinelinux.org>
t:1725919633
c:2ba0e3a8b6f0dd6ba4b4a4a2f53e49dd4e3e9aeb
D:alpine-baselayout apk-tools busybox busybox-binsh musl openrc

C:Q1A2vtDzqJp6yKqbOacbLQCv6WNQs=
P:openrc
V:0.54-r1
A:x86_64
S:271823
I:1908736
T:OpenRC manages the services, startup and shutdown of a host
U:https://github.com/OpenRC/openrc
L:BSD-2-Clause
o:openrc
m:Natanael Copa <ncopa@alpinelinux.org>
t:1717412178
c:1f2e3d4c5b6a79880716253443526170f8e9d0c1
D:ifupdown-any /bin/sh so:libc.musl-x86_64.so.1
p:so:libeinfo.so.1=1 so:librc.so.1=1 cmd:openrc=0.54-r1 cmd:rc-service=0.54-r1 cmd:rc-update=0.54-r1

C:Q16ZBMiabDRUtNJU/pIQLymM0AYQg=
P:openrc-doc
V:0.54-r1
A:x86_64
S:35641
I:114688
T:OpenRC manages the services, startup and shutdown of a host (documentation)
U:https://github.com/OpenRC/openrc
L:BSD-2-Clause
o:openrc
m:Natanael Copa <ncopa@alpinelinux.org>
t:1717412178
c:1f2e3d4c5b6a79880716253443526170f8e9d0c1
i:docs openrc=0.54-r1

C:Q1cauLavsbrj3yR+AobaNeDaFlZP8=
P:docs
V:0.2-r6
A:x86_64
S:1206
I:4096
T:Meta package for pulling in all documentation
U:https://alpinelinux.org
L:MIT
o:docs
m:Natanael Copa <ncopa@alpinelinux.org>
t:1711974484
D:doc-provider

C:Q1e610Nup3/RP/pCb0Y2BXju0eAQw=
P:ifupdown-ng
V:0.12.1-r5
A:x86_64
S:28756
I:98304
T:tools for managing network configuration
U:https://github.com/ifupdown-ng/ifupdown-ng
L:ISC
o:ifupdown-ng
m:Ariadne Conill <ariadne@dereferenced.org>
t:1717412178
k:900
D:so:libc.musl-x86_64.so.1
p:ifupdown-any cmd:ifup=0.12.1-r5 cmd:ifdown=0.12.1-r5

C:Q16NnT0SupT1kVQvzqRiKeAQovE4c=
P:apk-tools
V:2.14.4-r1
A:x86_64
S:121094
I:253952
T:Alpine Package Keeper - package manager for alpine
U:https://gitlab.alpinelinux.org/alpine/apk-tools
L:GPL-2.0-only
o:apk-tools
m:Natanael Copa <ncopa@alpinelinux.org>
t:1722335548
c:8a1b2c3d4e5f60718293a4b5c6d7e8f901234567
D:musl>=1.2.3_git20230424 so:libc.musl-x86_64.so.1 so:libcrypto.so.3 so:libssl.so.3 so:libz.so.1
p:so:libapk.so.2.14.0=2.14.0 cmd:apk=2.14.4-r1

C:Q1Da1/Qns4JYpZf1XjoaPx7JFlQIk=
P:libcrypto3
V:3.3.2-r1
A:x86_64
S:1790210
I:5177344
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1727199402
D:so:libc.musl-x86_64.so.1
p:so:libcrypto.so.3=3

C:Q1/f0JRaw6RbyqCk0TseLIVuUqHTQ=
P:libssl3
V:3.3.2-r1
A:x86_64
S:359114
I:798720
T:SSL shared libraries
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1727199402
D:so:libc.musl-x86_64.so.1 so:libcrypto.so.3
p:so:libssl.so.3=3

C:Q1V5aPEnmHZ65dqLFaDDg6150PM4s=
P:zlib
V:1.3.1-r1
A:x86_64
S:53855
I:102400
T:A compression/decompression Library
U:https://zlib.net/
L:Zlib
o:zlib
m:Natanael Copa <ncopa@alpinelinux.org>
t:1711974484
D:so:libc.musl-x86_64.so.1
p:so:libz.so.1=1.3.1

C:Q1bNTabiFSaDu6rhCAyCi9xUqIKgs=
P:zlib-dev
V:1.3.1-r1
A:x86_64
S:14862
I:135168
T:A compression/decompression Library (development files)
U:https://zlib.net/
L:Zlib
o:zlib
m:Natanael Copa <ncopa@alpinelinux.org>
t:1711974484
D:pkgconfig zlib=1.3.1-r1
p:pc:zlib=1.3.1

C:Q18oszBu4K1Rwi+tYKAA91sDfWTzE=
P:pkgconf
V:2.2.0-r0
A:x86_64
S:28418
I:73728
T:development framework configuration tools
U:https://gitea.treehouse.systems/ariadne/pkgconf
L:ISC
o:pkgconf
m:Ariadne Conill <ariadne@dereferenced.org>
t:1711974484
D:so:libc.musl-x86_64.so.1 so:libpkgconf.so.5
p:pkgconfig=1 cmd:pkg-config=2.2.0-r0 cmd:pkgconf=2.2.0-r0

C:Q1tZ0ZlwLKwM+D86ShFJWawB8ULlk=
P:bash
V:5.2.26-r0
A:x86_64
S:447131
I:1318912
T:The GNU Bourne Again shell
U:https://www.gnu.org/software/bash/bash.html
L:GPL-3.0-or-later
o:bash
m:Natanael Copa <ncopa@alpinelinux.org>
t:1711974484
D:/bin/sh !bash-legacy so:libc.musl-x86_64.so.1 so:libreadline.so.8
p:cmd:bash=5.2.26-r0

C:Q16zHyR1iJNE0yzUD6Uj9m+WHBsJQ=
P:openrc-bash-completion
V:0.54-r1
A:x86_64
S:3052
I:20480
T:Bash completions for openrc
U:https://github.com/OpenRC/openrc
L:BSD-2-Clause
o:openrc
m:Natanael Copa <ncopa@alpinelinux.org>
t:1717412178
i:openrc=0.54-r1 bash-completion

`;
