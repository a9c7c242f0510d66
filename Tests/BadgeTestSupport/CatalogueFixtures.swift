/// YAML catalogues shared by the catalogue's own tests and the end-to-end ones.
public enum CatalogueFixtures {
    /// A good badge (`first-ok`), then one the server's rules refuse (`owl`, at `badges[1]`: its
    /// time zone "America/New_Yrok" is no IANA zone): a file that must store nothing.
    public static let badTimeZoneInSecondBadge = """
        badges:
          - id: first-ok
            name: First
          - id: owl
            name: Owl
            criteria:
              time_zone: America/New_Yrok
              rules:
                - { key: k, event_type: purchase }
        """
}
