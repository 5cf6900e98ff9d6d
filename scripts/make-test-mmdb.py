#!/usr/bin/env python3
# Writes enrich/tests/fixtures/test-city.mmdb: a tiny MaxMind-format City database for tests.
#
# Records use the GeoIP2 City layout (country.iso_code, subdivisions[].iso_code,
# city.names.en, plus continent/location/names in other languages so readers must skip
# fields they do not use). Needs PyPI `mmdb-writer` (tests/requirements.txt). Run from the
# repository root:  python3 scripts/make-test-mmdb.py
# Keep NETWORKS in step with enrich/tests/fixtures/README.md.
import os
import sys

from mmdb_writer import MMDBWriter, MmdbF64, MmdbU32
from netaddr import IPSet

# (network, country, continent, subdivision iso, city en, city de, geoname id, lat, lon)
NETWORKS = [
    ("81.2.69.0/24", "GB", "EU", "ENG", "London", "London", 2643743, 51.5142, -0.0931),
    ("89.160.20.0/24", "SE", "EU", "E", "Linköping", "Linköping", 2694762, 58.4167, 15.6167),
    ("216.160.83.0/24", "US", "NA", "WA", "Milton", "Milton", 5803556, 47.2513, -122.3149),
    ("2001:db8:1::/48", "DE", "EU", "BE", "Berlin", "Berlin", 2950159, 52.5244, 13.4105),
    ("175.16.199.0/24", "CN", "AS", "22", "Changchun", "Changchun", 2038180, 43.88, 125.3228),
    ("2.125.160.0/24", "GB", "EU", "ENG", "Boxford", "Boxford", 2655045, 51.75, -1.25),
    # One /24 split in two, so a cache keyed by /24 would answer wrongly.
    ("2.125.161.0/25", "GB", "EU", "ENG", "Boxford", "Boxford", 2655045, 51.75, -1.25),
    ("2.125.161.128/25", "GB", "EU", "ENG", "Oxford", "Oxford", 2640729, 51.7522, -1.2560),
]

# A network with a country but no subdivision or city (as many real records are).
COUNTRY_ONLY = [("67.43.156.0/24", "BT", "AS")]


def record(country, continent, sub=None, city_en=None, city_de=None, gid=None, lat=None, lon=None):
    rec = {
        "continent": {"code": continent, "names": {"en": continent}},
        "country": {"iso_code": country, "names": {"en": country, "de": country}},
        "registered_country": {"iso_code": country},
    }
    if sub:
        rec["subdivisions"] = [{"iso_code": sub, "names": {"en": sub}}]
    if city_en:
        rec["city"] = {"geoname_id": MmdbU32(gid), "names": {"en": city_en, "de": city_de}}
        rec["location"] = {"latitude": MmdbF64(lat), "longitude": MmdbF64(lon), "time_zone": "UTC"}
    return rec


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "enrich", "tests", "fixtures", "test-city.mmdb")
    w = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-City",
        languages=["en", "de"],
        description={"en": "Test City database for the enrich crate", "de": "Test-Datenbank"},
    )
    for net, country, cont, sub, en, de, gid, lat, lon in NETWORKS:
        w.insert_network(IPSet([net]), record(country, cont, sub, en, de, gid, lat, lon))
    for net, country, cont in COUNTRY_ONLY:
        w.insert_network(IPSet([net]), record(country, cont))
    w.to_db_file(out)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
