-- OAS member states: the 35 independent states of the Americas that have ratified the
-- OAS Charter, ordered by English name
-- (sorted as if "The Bahamas" were "Bahamas").
--
-- Conventions and sources:
--   code          ISO 3166-1 alpha-2  (ISO 3166 Maintenance Agency).
--   alpha3        ISO 3166-1 alpha-3.
--   numeric_code  ISO 3166-1 numeric (= UN M49 country code), zero-padded to 3 digits.
--   name.en       Short names as the OAS uses them in English ("The Bahamas",
--                 "United States", "Bolivia", "Venezuela").
--   name.es/fr    UN (UNTERM) short names, without the UN parenthetical qualifiers
--                 ("Bolivia" not "Bolivia (Estado Plurinacional de)", "Venezuela" not
--                 "Venezuela (República Bolivariana de)"; "Estados Unidos" / "États-Unis"
--                 rather than the long forms ending in "de América" / "d’Amérique").
--   name.pt       Brazilian Portuguese short names (Itamaraty usage, as on oas.org/pt).
--   currency      ISO 4217 alphabetic code of the legal tender primarily used in the
--                 country. Countries where two codes could apply are commented inline.
--
-- Membership notes: Cuba is a member state but has not participated since 1962; the
-- withdrawal of Nicaragua took effect on 2023-11-19. Both are kept so that the table
-- covers all 35 states that have been parties to the Charter.
INSERT INTO member_states (code, alpha3, numeric_code, name, currency) VALUES
  ('AG', 'ATG', '028', '{"en": "Antigua and Barbuda", "es": "Antigua y Barbuda", "fr": "Antigua-et-Barbuda", "pt": "Antígua e Barbuda"}', 'XCD'),
  ('AR', 'ARG', '032', '{"en": "Argentina", "es": "Argentina", "fr": "Argentine", "pt": "Argentina"}', 'ARS'),
  ('BS', 'BHS', '044', '{"en": "The Bahamas", "es": "Bahamas", "fr": "Bahamas", "pt": "Bahamas"}', 'BSD'),  -- BSD is pegged 1:1 to USD; US dollars also circulate and are accepted at par
  ('BB', 'BRB', '052', '{"en": "Barbados", "es": "Barbados", "fr": "Barbade", "pt": "Barbados"}', 'BBD'),
  ('BZ', 'BLZ', '084', '{"en": "Belize", "es": "Belice", "fr": "Belize", "pt": "Belize"}', 'BZD'),
  ('BO', 'BOL', '068', '{"en": "Bolivia", "es": "Bolivia", "fr": "Bolivie", "pt": "Bolívia"}', 'BOB'),
  ('BR', 'BRA', '076', '{"en": "Brazil", "es": "Brasil", "fr": "Brésil", "pt": "Brasil"}', 'BRL'),
  ('CA', 'CAN', '124', '{"en": "Canada", "es": "Canadá", "fr": "Canada", "pt": "Canadá"}', 'CAD'),
  ('CL', 'CHL', '152', '{"en": "Chile", "es": "Chile", "fr": "Chili", "pt": "Chile"}', 'CLP'),
  ('CO', 'COL', '170', '{"en": "Colombia", "es": "Colombia", "fr": "Colombie", "pt": "Colômbia"}', 'COP'),
  ('CR', 'CRI', '188', '{"en": "Costa Rica", "es": "Costa Rica", "fr": "Costa Rica", "pt": "Costa Rica"}', 'CRC'),
  ('CU', 'CUB', '192', '{"en": "Cuba", "es": "Cuba", "fr": "Cuba", "pt": "Cuba"}', 'CUP'),  -- formerly two: the convertible peso (CUC) was withdrawn in 2021, leaving CUP. The 1962 exclusion was lifted in 2009; Cuba has not resumed participation
  ('DM', 'DMA', '212', '{"en": "Dominica", "es": "Dominica", "fr": "Dominique", "pt": "Dominica"}', 'XCD'),
  ('DO', 'DOM', '214', '{"en": "Dominican Republic", "es": "República Dominicana", "fr": "République dominicaine", "pt": "República Dominicana"}', 'DOP'),
  ('EC', 'ECU', '218', '{"en": "Ecuador", "es": "Ecuador", "fr": "Équateur", "pt": "Equador"}', 'USD'),  -- dollarised in 2000; USD is the sole legal tender (the sucre, ECS, was withdrawn)
  ('SV', 'SLV', '222', '{"en": "El Salvador", "es": "El Salvador", "fr": "El Salvador", "pt": "El Salvador"}', 'USD'),  -- two: USD is legal tender since 2001 and used in practice; ISO 4217 still lists the colón (SVC). bitcoin also had legal-tender status from 2021 until the January 2025 reform
  ('GD', 'GRD', '308', '{"en": "Grenada", "es": "Granada", "fr": "Grenade", "pt": "Granada"}', 'XCD'),
  ('GT', 'GTM', '320', '{"en": "Guatemala", "es": "Guatemala", "fr": "Guatemala", "pt": "Guatemala"}', 'GTQ'),
  ('GY', 'GUY', '328', '{"en": "Guyana", "es": "Guyana", "fr": "Guyana", "pt": "Guiana"}', 'GYD'),
  ('HT', 'HTI', '332', '{"en": "Haiti", "es": "Haití", "fr": "Haïti", "pt": "Haiti"}', 'HTG'),  -- two: ISO 4217 also lists USD for Haiti; the gourde (HTG) is the primary currency
  ('HN', 'HND', '340', '{"en": "Honduras", "es": "Honduras", "fr": "Honduras", "pt": "Honduras"}', 'HNL'),
  ('JM', 'JAM', '388', '{"en": "Jamaica", "es": "Jamaica", "fr": "Jamaïque", "pt": "Jamaica"}', 'JMD'),
  ('MX', 'MEX', '484', '{"en": "Mexico", "es": "México", "fr": "Mexique", "pt": "México"}', 'MXN'),
  ('NI', 'NIC', '558', '{"en": "Nicaragua", "es": "Nicaragua", "fr": "Nicaragua", "pt": "Nicarágua"}', 'NIO'),  -- denounced the OAS Charter in November 2021; withdrawal took effect on 2023-11-19
  ('PA', 'PAN', '591', '{"en": "Panama", "es": "Panamá", "fr": "Panama", "pt": "Panamá"}', 'USD'),  -- two: the balboa (PAB) is the official currency and is pegged 1:1, but only coins are issued; USD banknotes are the legal tender primarily used
  ('PY', 'PRY', '600', '{"en": "Paraguay", "es": "Paraguay", "fr": "Paraguay", "pt": "Paraguai"}', 'PYG'),
  ('PE', 'PER', '604', '{"en": "Peru", "es": "Perú", "fr": "Pérou", "pt": "Peru"}', 'PEN'),
  ('KN', 'KNA', '659', '{"en": "Saint Kitts and Nevis", "es": "Saint Kitts y Nevis", "fr": "Saint-Kitts-et-Nevis", "pt": "São Cristóvão e Névis"}', 'XCD'),
  ('LC', 'LCA', '662', '{"en": "Saint Lucia", "es": "Santa Lucía", "fr": "Sainte-Lucie", "pt": "Santa Lúcia"}', 'XCD'),
  ('VC', 'VCT', '670', '{"en": "Saint Vincent and the Grenadines", "es": "San Vicente y las Granadinas", "fr": "Saint-Vincent-et-les Grenadines", "pt": "São Vicente e Granadinas"}', 'XCD'),
  ('SR', 'SUR', '740', '{"en": "Suriname", "es": "Suriname", "fr": "Suriname", "pt": "Suriname"}', 'SRD'),
  ('TT', 'TTO', '780', '{"en": "Trinidad and Tobago", "es": "Trinidad y Tobago", "fr": "Trinité-et-Tobago", "pt": "Trinidad e Tobago"}', 'TTD'),
  ('US', 'USA', '840', '{"en": "United States", "es": "Estados Unidos", "fr": "États-Unis", "pt": "Estados Unidos"}', 'USD'),
  ('UY', 'URY', '858', '{"en": "Uruguay", "es": "Uruguay", "fr": "Uruguay", "pt": "Uruguai"}', 'UYU'),
  ('VE', 'VEN', '862', '{"en": "Venezuela", "es": "Venezuela", "fr": "Venezuela", "pt": "Venezuela"}', 'VES');  -- two: ISO 4217 lists both VES (928) and VED (926, added for the 2021 redenomination); VES is used here. USD is widely used in practice. Denunciation of the Charter announced 2017; OAS still lists Venezuela
