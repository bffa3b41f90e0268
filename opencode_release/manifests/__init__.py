"""Distributor manifests: .deb and the apt repository, Homebrew, winget, wheel/sdist and the package-index upload."""
