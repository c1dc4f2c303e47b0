{
  description = "ensemble-kit: retrain and independently re-verify a VMAF regressor ensemble, hermetically";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    crane.url = "github:ipetkov/crane";
  };

  outputs = { self, nixpkgs, crane, ... }:
    let
      systems = [ "x86_64-linux" "aarch64-darwin" "x86_64-darwin" ];
      forEachSystem = f: nixpkgs.lib.genAttrs systems (system: f (import ./nix/per-system.nix {
        inherit system nixpkgs crane;
        src = self;
      }));
    in
    {
      packages = forEachSystem (s: s.packages);
      apps = forEachSystem (s: s.apps);
      checks = forEachSystem (s: s.checks);
      devShells = forEachSystem (s: s.devShells);
    };
}
