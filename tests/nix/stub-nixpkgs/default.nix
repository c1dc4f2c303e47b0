# `import nixpkgs { system; config; }` on the stand-in input.
{ system, config ? { } }: import ./pkgs.nix { inherit system config; }
