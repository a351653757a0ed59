"""SSH as a transport: asyncssh connections from ssh config, strict host keys on every hop,
forwarded unix sockets and SFTP host facts. Registered as the `ssh` transport
(`kind.TRANSPORT`); a backend kind reaches it through `backends.registry.transport("ssh")`."""
