<?xml version="1.0" encoding="UTF-8"?>
<!--
  ppmg: the clinician's view of the postpartum massage guidance document.

  XSLT 1.0 (libxslt). Input: the CDA R2 document the plugin writes (docs/cda-contract.md).
  Output: one self-contained HTML page: no script, no external resource, inline CSS; readable on
  a phone and on paper. docs/clinician-view.md describes the page and its accessibility choices.

  What comes from where:
  - the outcome of each massage type and its earliest date: the coded entries (massage-outcome,
    earliest-date); the patient and the as-of date: the header; postpartum day and delivery: the
    provenance entries;
  - everything else: the section narrative, mapped element by element to HTML (paragraph, list,
    table, content with styleCode, linkHtml, footnote, br, sub, sup).
  All text is written as text: the serialiser escapes it. Links only to "#..." or http(s) URLs.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:h="urn:hl7-org:v3"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    exclude-result-prefixes="h xsi">

  <xsl:output method="html" encoding="UTF-8" doctype-system="about:legacy-compat" indent="no"/>

  <!-- Layout whitespace goes; the narrative's own whitespace stays. -->
  <xsl:strip-space elements="*"/>
  <xsl:preserve-space elements="h:text h:paragraph h:item h:td h:th h:content h:caption h:linkHtml
                                h:footnote h:sub h:sup h:title"/>

  <!-- ppmg's local code system (cda-contract.md). -->
  <xsl:variable name="ppmg" select="'2.25.318214975805081609918790724903688664766.1'"/>
  <xsl:variable name="recordIdRoot" select="'2.25.318214975805081609918790724903688664766.4'"/>
  <xsl:variable name="identifierRoot" select="'2.25.318214975805081609918790724903688664766.3'"/>

  <xsl:variable name="doc" select="/h:ClinicalDocument"/>
  <xsl:variable name="body" select="$doc/h:component/h:structuredBody"/>
  <xsl:variable name="outcomes"
      select="$body//h:section/h:entry/h:observation[h:code/@code = 'massage-outcome']"/>
  <xsl:variable name="provenance" select="$body/h:component/h:section[h:code/@code = 'provenance']"/>
  <xsl:variable name="warningSection" select="$body/h:component/h:section[h:code/@code = 'warning-signs']"/>
  <xsl:variable name="draftSection" select="$body/h:component/h:section[h:code/@code = 'draft-notice'][1]"/>
  <!-- The patient handout (audience patient): its sections carry handout-* codes. -->
  <xsl:variable name="handout" select="boolean($body/h:component/h:section[h:code/@code = 'handout-about'])"/>
  <!-- The urgent message in the warning-signs narrative, and the list of data right after it. -->
  <xsl:variable name="urgentParagraph"
      select="$warningSection/h:text/h:paragraph[starts-with(normalize-space(.), 'URGENT')][1]"/>
  <xsl:variable name="urgentData"
      select="$warningSection/h:text/h:list[preceding-sibling::*[1][self::h:paragraph]
                                             [starts-with(normalize-space(.), 'URGENT')]]"/>
  <xsl:variable name="escalated"
      select="boolean($outcomes/h:value[@code = 'escalate']) or boolean($urgentParagraph)"/>
  <!-- The section that holds one subsection per massage type. -->
  <xsl:variable name="guidance"
      select="$body/h:component/h:section[h:component/h:section/h:entry/h:observation
                                           [h:code/@code = 'massage-outcome']][1]"/>

  <!-- ===================================================================================== -->
  <!-- The page                                                                              -->
  <!-- ===================================================================================== -->

  <xsl:template match="/">
    <xsl:choose>
      <xsl:when test="$doc">
        <xsl:apply-templates select="$doc"/>
      </xsl:when>
      <xsl:otherwise>
        <html lang="en">
          <head>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>Not a CDA document</title>
          </head>
          <body><p>This is not an HL7 CDA R2 document (namespace urn:hl7-org:v3).</p></body>
        </html>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="h:ClinicalDocument">
    <xsl:variable name="lang">
      <xsl:choose>
        <xsl:when test="normalize-space(h:languageCode/@code) != ''">
          <xsl:value-of select="normalize-space(h:languageCode/@code)"/>
        </xsl:when>
        <xsl:otherwise>en</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <!-- The title without the draft notice the writer appends (" – Draft ..."): shown on its own. -->
    <xsl:variable name="fullTitle" select="normalize-space(h:title)"/>
    <xsl:variable name="title">
      <xsl:choose>
        <xsl:when test="$draftSection and contains($fullTitle, ' – ')"><xsl:value-of select="substring-before($fullTitle, ' – ')"/></xsl:when>
        <xsl:when test="$fullTitle != ''"><xsl:value-of select="$fullTitle"/></xsl:when>
        <xsl:otherwise>Postpartum massage guidance</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <html lang="{$lang}">
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <!-- Nothing may load or run: no script, no fetch, no frame; only the inline style. -->
        <meta http-equiv="Content-Security-Policy"
              content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"/>
        <meta name="referrer" content="no-referrer"/>
        <meta name="generator" content="ppmg content/xsl/cda-to-html.xsl"/>
        <title>
          <xsl:if test="$escalated and not($handout)">URGENT: </xsl:if>
          <xsl:value-of select="$title"/>
          <xsl:if test="h:recordTarget/h:patientRole/h:patient/h:name">
            <xsl:text> – </xsl:text>
            <xsl:apply-templates select="h:recordTarget/h:patientRole/h:patient/h:name[1]" mode="name"/>
          </xsl:if>
        </title>
        <style><xsl:call-template name="css"/></style>
      </head>
      <xsl:choose>
        <xsl:when test="$handout">
          <xsl:call-template name="handout-body"><xsl:with-param name="title" select="$title"/></xsl:call-template>
        </xsl:when>
        <xsl:otherwise>
          <xsl:call-template name="clinician-body"><xsl:with-param name="title" select="$title"/></xsl:call-template>
        </xsl:otherwise>
      </xsl:choose>
    </html>
  </xsl:template>

  <!-- ===================================================================================== -->
  <!-- The clinician's page: urgent banner, who and when, draft notice, the one-line summary   -->
  <!-- (all on the first screen), then the guidance per type, findings once, details.         -->
  <!-- ===================================================================================== -->

  <xsl:template name="clinician-body">
    <xsl:param name="title"/>
    <body>
      <xsl:attribute name="class">
        <xsl:choose>
          <xsl:when test="$escalated">page urgent-page</xsl:when>
          <xsl:otherwise>page</xsl:otherwise>
        </xsl:choose>
      </xsl:attribute>
      <!-- Escalate: the urgent banner first, before anything else on the page. -->
      <xsl:if test="$escalated"><xsl:call-template name="urgent-banner"/></xsl:if>
      <header class="doc-header">
        <h1><xsl:value-of select="$title"/></h1>
        <xsl:call-template name="patient-banner"/>
      </header>
      <main>
        <xsl:call-template name="draft-notice"/>
        <xsl:apply-templates select="$guidance" mode="summary"/>
        <xsl:if test="not($escalated) and $warningSection">
          <p class="check-first">
            <strong>No warning sign was found in the record.</strong>
            <xsl:text> Before any massage, go through the </xsl:text>
            <a href="#v-warning-signs">warning-sign checklist</a>
            <xsl:text> with her.</xsl:text>
          </p>
        </xsl:if>
        <xsl:apply-templates select="$guidance" mode="guidance"/>
        <xsl:apply-templates select="$body/h:component/h:section[count(. | $guidance | $draftSection) != count($guidance | $draftSection)]"
                             mode="top"/>
        <xsl:call-template name="document-facts"/>
      </main>
    </body>
  </xsl:template>

  <!-- Draft content (rule 16): at the top of the page, from the document's draft section. -->
  <xsl:template name="draft-notice">
    <xsl:if test="$draftSection">
      <p class="draft-notice" role="note" id="v-draft">
        <span class="draft-tag" aria-hidden="true">DRAFT</span>
        <xsl:text> </xsl:text>
        <strong><xsl:value-of select="normalize-space($draftSection/h:title)"/></strong>
      </p>
    </xsl:if>
  </xsl:template>

  <!-- ===================================================================================== -->
  <!-- Header: who, when                                                                     -->
  <!-- ===================================================================================== -->

  <xsl:template name="patient-banner">
    <xsl:variable name="patientRole" select="h:recordTarget/h:patientRole"/>
    <xsl:variable name="patient" select="$patientRole/h:patient"/>
    <xsl:variable name="asOf" select="h:documentationOf/h:serviceEvent/h:effectiveTime/@value"/>
    <xsl:variable name="day" select="$provenance/h:entry/h:observation[h:code/@code = 'postpartum-day']/h:value/@value"/>
    <xsl:variable name="deliveryDate" select="$provenance/h:entry/h:observation[h:code/@code = 'delivery-date']/h:value/@value"/>
    <xsl:variable name="deliveryMode" select="$provenance/h:entry/h:observation[h:code/@code = 'delivery-mode']/h:value/@code"/>
    <!-- One identifier shown: the one marked displayable (the MRN), else the first the record
         gave; the others behind a disclosure. -->
    <xsl:variable name="ids" select="$patientRole/h:id[@extension and @root != $recordIdRoot]"/>
    <xsl:variable name="marked" select="$ids[@displayable = 'true'][1]"/>
    <xsl:variable name="unmarked" select="$ids[not(@displayable = 'false')][1]"/>
    <xsl:variable name="mrn" select="$marked | $unmarked[not($marked)]"/>
    <xsl:variable name="shown" select="$mrn | $patientRole/h:id[@extension and @root = $recordIdRoot and not($mrn)]"/>
    <xsl:variable name="others" select="$patientRole/h:id[@extension][count(. | $shown) != count($shown)]"/>
    <dl class="facts">
      <div class="fact fact-patient">
        <dt>Patient</dt>
        <dd>
          <xsl:choose>
            <xsl:when test="$patient/h:name">
              <bdi><xsl:apply-templates select="$patient/h:name[1]" mode="name"/></bdi>
            </xsl:when>
            <xsl:otherwise>name not known</xsl:otherwise>
          </xsl:choose>
        </dd>
      </div>
      <xsl:for-each select="$shown">
        <div class="fact fact-mrn">
          <dt>
            <xsl:choose>
              <xsl:when test="@displayable = 'true'">MRN</xsl:when>
              <xsl:when test="@root = $recordIdRoot">Record ID</xsl:when>
              <xsl:otherwise>Identifier</xsl:otherwise>
            </xsl:choose>
          </dt>
          <dd class="ident"><bdi><xsl:call-template name="id-value"/></bdi></dd>
        </div>
      </xsl:for-each>
      <div class="fact">
        <dt>Postpartum day</dt>
        <dd>
          <xsl:choose>
            <xsl:when test="$day"><xsl:value-of select="$day"/></xsl:when>
            <xsl:otherwise>not known</xsl:otherwise>
          </xsl:choose>
        </dd>
      </div>
      <div class="fact">
        <dt>Delivery</dt>
        <dd>
          <xsl:choose>
            <xsl:when test="$deliveryDate">
              <xsl:call-template name="ts"><xsl:with-param name="value" select="$deliveryDate"/></xsl:call-template>
              <xsl:if test="$deliveryMode">
                <xsl:text>, </xsl:text>
                <xsl:value-of select="$deliveryMode"/>
              </xsl:if>
            </xsl:when>
            <xsl:otherwise>none on record</xsl:otherwise>
          </xsl:choose>
        </dd>
      </div>
      <div class="fact fact-asof">
        <dt>Data as of</dt>
        <dd><xsl:call-template name="ts"><xsl:with-param name="value" select="$asOf"/></xsl:call-template></dd>
      </div>
      <div class="fact">
        <dt>Born</dt>
        <dd><xsl:call-template name="ts"><xsl:with-param name="value" select="$patient/h:birthTime/@value"/></xsl:call-template></dd>
      </div>
    </dl>
    <xsl:if test="$others">
      <details class="other-ids">
        <summary>
          <xsl:text>Other identifiers (</xsl:text>
          <xsl:value-of select="count($others)"/>
          <xsl:text>)</xsl:text>
        </summary>
        <ul class="plain-list">
          <xsl:for-each select="$others">
            <li class="ident"><bdi><xsl:call-template name="id-value"/></bdi></li>
          </xsl:for-each>
        </ul>
      </details>
    </xsl:if>
  </xsl:template>

  <!-- An identifier's value; "system|value" (the writer's form for a FHIR system that is no OID)
       shows the value, and the system after it, smaller. -->
  <xsl:template name="id-value">
    <xsl:choose>
      <xsl:when test="@root = $identifierRoot and contains(@extension, '|')">
        <xsl:value-of select="substring-after(@extension, '|')"/>
        <xsl:text> </xsl:text>
        <span class="id-system">(<xsl:value-of select="substring-before(@extension, '|')"/>)</span>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="@extension"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- A person's name: the given names and the family name, or the name's text. -->
  <xsl:template match="h:name" mode="name">
    <xsl:choose>
      <xsl:when test="@nullFlavor">name not known</xsl:when>
      <xsl:when test="h:given | h:family | h:prefix | h:suffix">
        <xsl:for-each select="h:prefix | h:given | h:family | h:suffix">
          <xsl:if test="position() &gt; 1"><xsl:text> </xsl:text></xsl:if>
          <xsl:value-of select="normalize-space(.)"/>
        </xsl:for-each>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="normalize-space(.)"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- ===================================================================================== -->
  <!-- The urgent state                                                                      -->
  <!-- ===================================================================================== -->

  <xsl:template name="urgent-banner">
    <section class="urgent" id="v-urgent" role="alert" aria-labelledby="v-urgent-heading">
      <div class="urgent-head">
        <span class="urgent-icon" aria-hidden="true">!</span>
        <h2 id="v-urgent-heading">
          <xsl:choose>
            <xsl:when test="$urgentParagraph">
              <xsl:value-of select="normalize-space($urgentParagraph)"/>
            </xsl:when>
            <xsl:otherwise>URGENT: seek urgent clinical assessment</xsl:otherwise>
          </xsl:choose>
        </h2>
      </div>
      <p class="urgent-lead">A warning sign is on record. No massage of any type until she has been assessed.</p>
      <xsl:apply-templates select="$urgentData">
        <xsl:with-param name="level" select="3"/>
      </xsl:apply-templates>
    </section>
  </xsl:template>

  <!-- ===================================================================================== -->
  <!-- Massage guidance: the summary (first screen) and one card per massage type             -->
  <!-- ===================================================================================== -->

  <xsl:template match="h:section" mode="summary">
    <xsl:variable name="types" select="h:component/h:section[h:entry/h:observation[h:code/@code = 'massage-outcome']]"/>
    <xsl:variable name="rows" select="h:text/h:table[1]/h:tbody/h:tr"/>
    <section class="summary-box" id="v-summary" aria-labelledby="v-summary-heading">
      <h2 id="v-summary-heading">
        <xsl:choose>
          <xsl:when test="h:text/h:table/h:caption">
            <xsl:value-of select="normalize-space(h:text/h:table/h:caption)"/>
          </xsl:when>
          <xsl:otherwise>Summary</xsl:otherwise>
        </xsl:choose>
      </h2>
      <table class="summary">
        <caption class="visually-hidden">Each massage type: outcome, reason and earliest date</caption>
        <thead>
          <tr><th scope="col">Massage type</th><th scope="col">Outcome</th><th scope="col">Reason</th><th scope="col" class="col-earliest">Earliest date</th></tr>
        </thead>
        <tbody>
          <xsl:for-each select="$types">
            <xsl:variable name="i" select="position()"/>
            <xsl:variable name="obs" select="h:entry/h:observation[h:code/@code = 'massage-outcome'][1]"/>
            <xsl:variable name="earliest"
                select="$obs/h:entryRelationship/h:observation[h:code/@code = 'earliest-date']/h:value/@value"/>
            <tr data-massage-type="{h:code/@code}" data-outcome="{$obs/h:value/@code}">
              <th scope="row"><a href="#{concat('v-type-', h:code/@code)}"><xsl:value-of select="normalize-space(h:title)"/></a></th>
              <td>
                <xsl:call-template name="badge"><xsl:with-param name="obs" select="$obs"/></xsl:call-template>
                <xsl:if test="$earliest">
                  <span class="earliest-inline">
                    <xsl:text>From </xsl:text>
                    <xsl:call-template name="ts"><xsl:with-param name="value" select="$earliest"/></xsl:call-template>
                  </span>
                </xsl:if>
              </td>
              <td class="reason"><xsl:apply-templates select="$rows[$i]/h:td[3]/node()"/></td>
              <td class="col-earliest">
                <xsl:choose>
                  <xsl:when test="$earliest">
                    <xsl:call-template name="ts"><xsl:with-param name="value" select="$earliest"/></xsl:call-template>
                  </xsl:when>
                  <xsl:otherwise><span class="muted">–</span></xsl:otherwise>
                </xsl:choose>
              </td>
            </tr>
          </xsl:for-each>
        </tbody>
      </table>
    </section>
  </xsl:template>

  <xsl:template match="h:section" mode="guidance">
    <xsl:variable name="types" select="h:component/h:section[h:entry/h:observation[h:code/@code = 'massage-outcome']]"/>
    <section class="guidance" id="v-guidance" aria-labelledby="v-guidance-heading">
      <h2 id="v-guidance-heading"><xsl:value-of select="normalize-space(h:title)"/></h2>
      <!-- Any other narrative of the section (its first table is the summary above). -->
      <xsl:apply-templates select="h:text/node()[not(self::h:table)]">
        <xsl:with-param name="level" select="3"/>
      </xsl:apply-templates>
      <xsl:apply-templates select="$types" mode="massage"/>
      <xsl:apply-templates select="h:component/h:section[count(. | $types) != count($types)]" mode="sub">
        <xsl:with-param name="level" select="3"/>
      </xsl:apply-templates>
    </section>
  </xsl:template>

  <xsl:template match="h:section" mode="massage">
    <xsl:variable name="obs" select="h:entry/h:observation[h:code/@code = 'massage-outcome'][1]"/>
    <xsl:variable name="code" select="$obs/h:value/@code"/>
    <xsl:variable name="earliest"
        select="$obs/h:entryRelationship/h:observation[h:code/@code = 'earliest-date']/h:value/@value"/>
    <xsl:variable name="id" select="concat('v-type-', h:code/@code)"/>
    <section id="{$id}" class="massage o-{$code}" data-massage-type="{h:code/@code}" data-outcome="{$code}"
             aria-labelledby="{$id}-heading">
      <div class="massage-head">
        <h3 id="{$id}-heading"><xsl:value-of select="normalize-space(h:title)"/></h3>
        <xsl:call-template name="badge"><xsl:with-param name="obs" select="$obs"/></xsl:call-template>
      </div>
      <xsl:if test="$earliest">
        <p class="earliest">
          <span class="label">Earliest date: </span>
          <strong><xsl:call-template name="ts"><xsl:with-param name="value" select="$earliest"/></xsl:call-template></strong>
        </p>
      </xsl:if>
      <!-- The narrative, less the paragraphs that state the coded outcome and earliest date
           (shown above from the entries). -->
      <!-- The evidence (benefits, claims not supported, sources) folds away: one click on screen,
           left out on paper. -->
      <xsl:variable name="evidence" select="h:text/h:list[contains(h:caption, 'evidence')]
                                            | h:text/h:paragraph[starts-with(normalize-space(.), 'Sources:')]"/>
      <xsl:apply-templates select="h:text/node()[not(self::h:paragraph[h:content[@ID and
                                     concat('#', @ID) = current()/h:entry//h:text/h:reference/@value]])]
                                   [count(. | $evidence) != count($evidence)]">
        <xsl:with-param name="level" select="4"/>
      </xsl:apply-templates>
      <xsl:if test="$evidence">
        <details class="evidence">
          <summary>Evidence and sources</summary>
          <xsl:apply-templates select="$evidence">
            <xsl:with-param name="level" select="4"/>
          </xsl:apply-templates>
        </details>
      </xsl:if>
      <xsl:apply-templates select="h:component/h:section" mode="sub">
        <xsl:with-param name="level" select="4"/>
      </xsl:apply-templates>
    </section>
  </xsl:template>

  <!-- The outcome: a symbol and the label in words, never colour alone. -->
  <xsl:template name="badge">
    <xsl:param name="obs"/>
    <xsl:variable name="code" select="$obs/h:value/@code"/>
    <span class="badge o-{$code}">
      <span class="badge-icon" aria-hidden="true">
        <xsl:choose>
          <xsl:when test="$code = 'escalate'">!</xsl:when>
          <xsl:when test="$code = 'block'">✕</xsl:when>
          <xsl:when test="$code = 'defer'">◷</xsl:when>
          <xsl:when test="$code = 'review'">?</xsl:when>
          <xsl:when test="$code = 'modify'">✓</xsl:when>
          <xsl:when test="$code = 'no-flag'">✓</xsl:when>
          <xsl:otherwise>–</xsl:otherwise>
        </xsl:choose>
      </span>
      <span class="badge-label">
        <xsl:choose>
          <xsl:when test="normalize-space($obs/h:value/@displayName) != ''">
            <xsl:value-of select="$obs/h:value/@displayName"/>
          </xsl:when>
          <xsl:when test="$code = 'escalate'">Urgent clinical assessment</xsl:when>
          <xsl:otherwise><xsl:value-of select="$code"/></xsl:otherwise>
        </xsl:choose>
      </span>
    </span>
  </xsl:template>

  <!-- ===================================================================================== -->
  <!-- The other sections: warning signs, findings and data gaps, references, provenance      -->
  <!-- ===================================================================================== -->

  <xsl:template match="h:section" mode="top">
    <xsl:variable name="code" select="h:code/@code"/>
    <xsl:variable name="id">
      <xsl:choose>
        <xsl:when test="$code = 'warning-signs' or $code = 'findings' or $code = 'references' or $code = 'provenance'">
          <xsl:value-of select="concat('v-', $code)"/>
        </xsl:when>
        <xsl:otherwise><xsl:value-of select="concat('v-section-', generate-id())"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <section id="{$id}" class="doc-section s-{$code}" aria-labelledby="{$id}-heading">
      <xsl:choose>
        <!-- Reference material: folded away on screen and on paper, one click to open. -->
        <xsl:when test="$code = 'references' or $code = 'provenance'">
          <details>
            <summary><h2 id="{$id}-heading"><xsl:value-of select="normalize-space(h:title)"/></h2></summary>
            <xsl:apply-templates select="h:text/node()">
              <xsl:with-param name="level" select="3"/>
            </xsl:apply-templates>
          </details>
        </xsl:when>
        <xsl:when test="$code = 'warning-signs'">
          <h2 id="{$id}-heading"><xsl:value-of select="normalize-space(h:title)"/></h2>
          <!-- The urgent message and its data are at the top of the page. -->
          <xsl:apply-templates select="h:text/node()[count(. | $urgentParagraph | $urgentData)
                                                      != count($urgentParagraph | $urgentData)]">
            <xsl:with-param name="level" select="3"/>
            <xsl:with-param name="checklist" select="true()"/>
          </xsl:apply-templates>
        </xsl:when>
        <xsl:when test="$code = 'findings'">
          <h2 id="{$id}-heading"><xsl:value-of select="normalize-space(h:title)"/></h2>
          <xsl:variable name="details" select="h:text/h:table[starts-with(normalize-space(h:caption), 'Details')]
                                               | h:text/h:list[normalize-space(h:caption) = 'Data gap ids']"/>
          <xsl:apply-templates select="h:text/node()[count(. | $details) != count($details)]">
            <xsl:with-param name="level" select="3"/>
          </xsl:apply-templates>
          <xsl:if test="$details">
            <details class="ids">
              <summary>Details: rule ids, record ids and codes</summary>
              <xsl:apply-templates select="$details">
                <xsl:with-param name="level" select="3"/>
              </xsl:apply-templates>
            </details>
          </xsl:if>
        </xsl:when>
        <xsl:otherwise>
          <h2 id="{$id}-heading"><xsl:value-of select="normalize-space(h:title)"/></h2>
          <xsl:apply-templates select="h:text/node()">
            <xsl:with-param name="level" select="3"/>
          </xsl:apply-templates>
        </xsl:otherwise>
      </xsl:choose>
      <xsl:apply-templates select="h:component/h:section" mode="sub">
        <xsl:with-param name="level" select="3"/>
      </xsl:apply-templates>
    </section>
  </xsl:template>

  <!-- A subsection of unknown kind: its title one level down, then its narrative. -->
  <xsl:template match="h:section" mode="sub">
    <xsl:param name="level" select="3"/>
    <section class="doc-subsection">
      <xsl:element name="{concat('h', 6 - (6 - $level) * number($level &lt; 6))}"><xsl:value-of select="normalize-space(h:title)"/></xsl:element>
      <xsl:apply-templates select="h:text/node()">
        <xsl:with-param name="level" select="$level + 1"/>
      </xsl:apply-templates>
      <xsl:apply-templates select="h:component/h:section" mode="sub">
        <xsl:with-param name="level" select="$level + 1"/>
      </xsl:apply-templates>
    </section>
  </xsl:template>

  <!-- Who made the document, when; after the provenance narrative. -->
  <xsl:template name="document-facts">
    <footer class="doc-footer">
      <h2 class="visually-hidden">About this document</h2>
      <ul class="plain">
        <li>
          <span class="label">Document created: </span>
          <xsl:call-template name="ts"><xsl:with-param name="value" select="h:effectiveTime/@value"/></xsl:call-template>
        </li>
        <xsl:if test="h:author/h:assignedAuthor/h:assignedAuthoringDevice/h:softwareName">
          <li>
            <span class="label">Written by: </span>
            <xsl:value-of select="normalize-space(h:author/h:assignedAuthor/h:assignedAuthoringDevice/h:softwareName)"/>
          </li>
        </xsl:if>
        <xsl:if test="h:custodian//h:representedCustodianOrganization/h:name">
          <li>
            <span class="label">Custodian: </span>
            <bdi><xsl:value-of select="normalize-space(h:custodian//h:representedCustodianOrganization/h:name)"/></bdi>
          </li>
        </xsl:if>
        <li>
          <span class="label">Document ID: </span>
          <span class="ident"><xsl:value-of select="h:id/@root"/></span>
          <xsl:if test="h:id/@extension">
            <xsl:text> </xsl:text><span class="ident"><xsl:value-of select="h:id/@extension"/></span>
          </xsl:if>
        </li>
      </ul>
    </footer>
  </xsl:template>

  <!-- ===================================================================================== -->
  <!-- The handout for her: her language, plain words, only what the document's narrative says -->
  <!-- (no codes, ids or rule names; no text of this stylesheet's own).                        -->
  <!-- ===================================================================================== -->

  <xsl:template name="handout-body">
    <xsl:param name="title"/>
    <body class="handout">
      <header class="doc-header">
        <h1><xsl:value-of select="$title"/></h1>
      </header>
      <main>
        <xsl:if test="$draftSection">
          <p class="draft-notice" role="note" id="v-draft">
            <strong><xsl:value-of select="normalize-space($draftSection/h:title)"/></strong>
          </p>
        </xsl:if>
        <xsl:for-each select="$body/h:component/h:section[h:code/@code != 'draft-notice']">
          <xsl:variable name="code" select="h:code/@code"/>
          <section class="h-section h-{$code}" id="v-{$code}">
            <xsl:if test="$code = 'handout-urgent'"><xsl:attribute name="role">alert</xsl:attribute></xsl:if>
            <xsl:if test="$code != 'handout-about'">
              <h2><xsl:value-of select="normalize-space(h:title)"/></h2>
            </xsl:if>
            <xsl:apply-templates select="h:text/node()"/>
            <xsl:for-each select="h:component/h:section">
              <section class="h-type" data-handout-type="{h:code/@code}">
                <h3><xsl:value-of select="normalize-space(h:title)"/></h3>
                <xsl:apply-templates select="h:text/node()"/>
              </section>
            </xsl:for-each>
          </section>
        </xsl:for-each>
      </main>
    </body>
  </xsl:template>

  <!-- ===================================================================================== -->
  <!-- The CDA narrative block, element by element                                           -->
  <!-- ===================================================================================== -->

  <xsl:template match="h:paragraph">
    <xsl:param name="level" select="3"/>
    <p>
      <xsl:call-template name="narrative-id"/>
      <xsl:choose>
        <xsl:when test="starts-with(normalize-space(.), 'URGENT')">
          <xsl:attribute name="class">urgent-note</xsl:attribute>
        </xsl:when>
        <!-- The one-line why of a massage type: the summary says it too, so paper leaves it out. -->
        <xsl:when test="starts-with(normalize-space(.), 'Why:')">
          <xsl:attribute name="class">why</xsl:attribute>
        </xsl:when>
      </xsl:choose>
      <xsl:apply-templates select="node()[not(self::h:caption)]"/>
    </p>
  </xsl:template>

  <!-- A list; its caption becomes a heading of the right level. -->
  <xsl:template match="h:list">
    <xsl:param name="level" select="3"/>
    <xsl:param name="checklist" select="false()"/>
    <xsl:variable name="kind">
      <xsl:choose>
        <xsl:when test="@listType = 'ordered'">ol</xsl:when>
        <xsl:otherwise>ul</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="caption" select="normalize-space(h:caption)"/>
    <xsl:variable name="class">
      <xsl:choose>
        <xsl:when test="ancestor::h:item">data</xsl:when>
        <xsl:when test="$checklist and $caption = ''">checklist</xsl:when>
        <xsl:when test="contains($caption, 'evidence')">claims</xsl:when>
        <xsl:when test="$caption = ''">plain-list</xsl:when>
        <xsl:otherwise>captioned</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:choose>
      <xsl:when test="$caption != '' and ancestor::h:item">
        <xsl:variable name="hid" select="concat('v-', generate-id(h:caption))"/>
        <div class="sub-caption" id="{$hid}"><xsl:value-of select="$caption"/></div>
        <xsl:element name="{$kind}">
          <xsl:call-template name="narrative-id"/>
          <xsl:attribute name="class"><xsl:value-of select="$class"/></xsl:attribute>
          <xsl:attribute name="aria-labelledby"><xsl:value-of select="$hid"/></xsl:attribute>
          <xsl:apply-templates select="h:item"/>
        </xsl:element>
      </xsl:when>
      <xsl:when test="$caption != ''">
        <xsl:variable name="hid" select="concat('v-', generate-id(h:caption))"/>
        <div class="block">
          <xsl:element name="{concat('h', 6 - (6 - $level) * number($level &lt; 6))}">
            <xsl:attribute name="id"><xsl:value-of select="$hid"/></xsl:attribute>
            <xsl:attribute name="class">block-heading</xsl:attribute>
            <xsl:value-of select="$caption"/>
          </xsl:element>
          <xsl:element name="{$kind}">
            <xsl:call-template name="narrative-id"/>
            <xsl:attribute name="class"><xsl:value-of select="$class"/></xsl:attribute>
            <xsl:attribute name="aria-labelledby"><xsl:value-of select="$hid"/></xsl:attribute>
            <xsl:apply-templates select="h:item"/>
          </xsl:element>
        </div>
      </xsl:when>
      <xsl:otherwise>
        <xsl:element name="{$kind}">
          <xsl:call-template name="narrative-id"/>
          <xsl:attribute name="class"><xsl:value-of select="$class"/></xsl:attribute>
          <xsl:apply-templates select="h:item"/>
        </xsl:element>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="h:item">
    <li>
      <xsl:call-template name="narrative-id"/>
      <xsl:apply-templates select="node()[not(self::h:caption)]"/>
    </li>
  </xsl:template>

  <!-- Tables: a caption, column headers with scope, and a wrapper that scrolls on a phone. -->
  <xsl:template match="h:table">
    <xsl:variable name="cid" select="concat('v-', generate-id())"/>
    <div class="table-wrap">
      <xsl:if test="h:caption">
        <xsl:attribute name="role">region</xsl:attribute>
        <xsl:attribute name="aria-labelledby"><xsl:value-of select="$cid"/></xsl:attribute>
        <xsl:attribute name="tabindex">0</xsl:attribute>
      </xsl:if>
      <table>
        <xsl:call-template name="narrative-id"/>
        <xsl:if test="h:caption">
          <caption id="{$cid}"><xsl:apply-templates select="h:caption/node()"/></caption>
        </xsl:if>
        <xsl:apply-templates select="h:colgroup | h:col | h:thead | h:tbody | h:tfoot"/>
      </table>
    </div>
  </xsl:template>

  <xsl:template match="h:colgroup | h:col | h:thead | h:tbody | h:tfoot | h:tr">
    <xsl:element name="{local-name()}">
      <xsl:call-template name="narrative-id"/>
      <xsl:copy-of select="@span"/>
      <xsl:apply-templates select="*"/>
    </xsl:element>
  </xsl:template>

  <xsl:template match="h:th | h:td">
    <xsl:element name="{local-name()}">
      <xsl:call-template name="narrative-id"/>
      <xsl:copy-of select="@colspan | @rowspan | @abbr"/>
      <xsl:choose>
        <xsl:when test="self::h:th and @scope"><xsl:copy-of select="@scope"/></xsl:when>
        <xsl:when test="self::h:th and parent::h:tr/parent::h:thead">
          <xsl:attribute name="scope">col</xsl:attribute>
        </xsl:when>
      </xsl:choose>
      <xsl:apply-templates select="node()"/>
    </xsl:element>
  </xsl:template>

  <!-- content: emphasis by styleCode (Bold, Italics, Underline, Emphasis); a span otherwise. -->
  <xsl:template match="h:content">
    <xsl:variable name="style" select="concat(' ', normalize-space(@styleCode), ' ')"/>
    <xsl:choose>
      <xsl:when test="@revised = 'delete'"/>
      <xsl:when test="contains($style, ' Bold ')">
        <strong>
          <xsl:call-template name="narrative-id"/>
          <xsl:call-template name="content-inner"><xsl:with-param name="style" select="$style"/></xsl:call-template>
        </strong>
      </xsl:when>
      <xsl:otherwise>
        <span>
          <xsl:call-template name="narrative-id"/>
          <xsl:call-template name="content-inner"><xsl:with-param name="style" select="$style"/></xsl:call-template>
        </span>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="content-inner">
    <xsl:param name="style"/>
    <xsl:choose>
      <xsl:when test="contains($style, ' Italics ') or contains($style, ' Emphasis ')">
        <em>
          <xsl:call-template name="content-underline"><xsl:with-param name="style" select="$style"/></xsl:call-template>
        </em>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="content-underline"><xsl:with-param name="style" select="$style"/></xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="content-underline">
    <xsl:param name="style"/>
    <xsl:choose>
      <xsl:when test="contains($style, ' Underline ')"><u><xsl:apply-templates/></u></xsl:when>
      <xsl:otherwise><xsl:apply-templates/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- Links: within the page, or to an http(s) address; any other scheme stays plain text. -->
  <xsl:template match="h:linkHtml">
    <xsl:variable name="href" select="normalize-space(@href)"/>
    <xsl:choose>
      <xsl:when test="starts-with($href, '#') or starts-with($href, 'https://') or starts-with($href, 'http://')">
        <a href="{$href}">
          <xsl:call-template name="narrative-id"/>
          <xsl:if test="not(starts-with($href, '#'))">
            <xsl:attribute name="rel">noopener noreferrer external</xsl:attribute>
          </xsl:if>
          <xsl:apply-templates/>
        </a>
      </xsl:when>
      <xsl:otherwise><xsl:apply-templates/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="h:br"><br/></xsl:template>
  <xsl:template match="h:sub"><sub><xsl:apply-templates/></sub></xsl:template>
  <xsl:template match="h:sup"><sup><xsl:apply-templates/></sup></xsl:template>

  <!-- A footnote stays where it is, set off as a note; a footnoteRef points to one. -->
  <xsl:template match="h:footnote">
    <small class="footnote" role="note">
      <xsl:call-template name="narrative-id"/>
      <xsl:text>(Note: </xsl:text>
      <xsl:apply-templates/>
      <xsl:text>)</xsl:text>
    </small>
  </xsl:template>
  <xsl:template match="h:footnoteRef">
    <sup><a href="#{@IDREF}">note</a></sup>
  </xsl:template>

  <!-- No multimedia: the page loads nothing. -->
  <xsl:template match="h:renderMultiMedia"/>
  <xsl:template match="h:caption"/>

  <!-- Evidence grades: "claim (evidence: Low) [refs]" shows the grade as a labelled tag. -->
  <xsl:template match="h:item/text()[contains(., ' (evidence: ')]">
    <xsl:variable name="after" select="substring-after(., ' (evidence: ')"/>
    <xsl:choose>
      <xsl:when test="contains($after, ')')">
        <xsl:value-of select="substring-before(., ' (evidence: ')"/>
        <xsl:text> </xsl:text>
        <span class="grade">
          <span class="grade-label">Evidence: </span>
          <xsl:value-of select="substring-before($after, ')')"/>
        </span>
        <xsl:value-of select="substring-after($after, ')')"/>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="."/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- A reference's web address, written as text in the CDA (HL7's stylesheet flags a linkHtml
       href holding ':'), becomes a link here: the text up to the next space. -->
  <xsl:template match="h:section[h:code/@code = 'references']//h:item/text()[contains(., 'https://')]" priority="1">
    <xsl:variable name="after" select="substring-after(., 'https://')"/>
    <xsl:variable name="address">
      <xsl:choose>
        <xsl:when test="contains($after, ' ')"><xsl:value-of select="concat('https://', substring-before($after, ' '))"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="concat('https://', $after)"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:value-of select="substring-before(., 'https://')"/>
    <a href="{$address}" rel="noopener noreferrer external"><xsl:value-of select="$address"/></a>
    <xsl:value-of select="substring-after(., $address)"/>
  </xsl:template>

  <!-- Unknown narrative elements: their text only. -->
  <xsl:template match="h:*">
    <xsl:apply-templates/>
  </xsl:template>

  <!-- A narrative ID (an NCName-like token in the CDA) becomes the HTML id. -->
  <xsl:template name="narrative-id">
    <xsl:if test="normalize-space(@ID) != ''">
      <xsl:attribute name="id"><xsl:value-of select="normalize-space(@ID)"/></xsl:attribute>
    </xsl:if>
  </xsl:template>

  <!-- ===================================================================================== -->
  <!-- Dates: a CDA TS (YYYYMMDD[HHMM[SS]][+ZZZZ]) as YYYY-MM-DD[ HH:MM +ZZZZ]                -->
  <!-- ===================================================================================== -->

  <xsl:template name="ts">
    <xsl:param name="value"/>
    <xsl:variable name="v" select="normalize-space($value)"/>
    <xsl:choose>
      <xsl:when test="string-length($v) &gt;= 8 and translate(substring($v, 1, 8), '0123456789', '') = ''">
        <xsl:variable name="date" select="concat(substring($v, 1, 4), '-', substring($v, 5, 2), '-', substring($v, 7, 2))"/>
        <time datetime="{$date}">
          <xsl:value-of select="$date"/>
          <xsl:if test="string-length($v) &gt;= 12 and translate(substring($v, 9, 4), '0123456789', '') = ''">
            <xsl:value-of select="concat(' ', substring($v, 9, 2), ':', substring($v, 11, 2))"/>
            <xsl:variable name="zone">
              <xsl:choose>
                <xsl:when test="contains(substring($v, 9), '+')"><xsl:value-of select="concat('+', substring-after(substring($v, 9), '+'))"/></xsl:when>
                <xsl:when test="contains(substring($v, 9), '-')"><xsl:value-of select="concat('-', substring-after(substring($v, 9), '-'))"/></xsl:when>
              </xsl:choose>
            </xsl:variable>
            <xsl:if test="$zone != ''">
              <xsl:choose>
                <xsl:when test="$zone = '+0000' or $zone = '-0000'"> UTC</xsl:when>
                <xsl:otherwise><xsl:value-of select="concat(' ', $zone)"/></xsl:otherwise>
              </xsl:choose>
            </xsl:if>
          </xsl:if>
        </time>
      </xsl:when>
      <xsl:when test="$v != ''"><xsl:value-of select="$v"/></xsl:when>
      <xsl:otherwise>not known</xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- ===================================================================================== -->
  <!-- Style                                                                                 -->
  <!-- ===================================================================================== -->

  <xsl:template name="css">
<xsl:text>
:root{--ink:#1b1f24;--muted:#4f5862;--line:#d0d7de;--paper:#fff;--wash:#f6f8fa;--link:#0b57b4;
--esc-fg:#fff;--esc-bg:#a4161a;--blk-fg:#8a1512;--blk-bg:#fdecea;--blk-bd:#c9302c;
--def-fg:#6b4200;--def-bg:#fff3d6;--def-bd:#c98a0b;--rev-fg:#5a2a8a;--rev-bg:#f2eafb;--rev-bd:#8e5cc8;
--mod-fg:#0a4a7a;--mod-bg:#e6f0fa;--mod-bd:#3a7fc1;--ok-fg:#175c2c;--ok-bg:#e5f4e9;--ok-bd:#2f9a4c;
--na-fg:#3d434a;--na-bg:#eceff2;--na-bd:#8a939c}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--wash);color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans","Liberation Sans",Arial,sans-serif}
.doc-header,main,body>.urgent{max-width:62rem;margin:0 auto;padding:0 1.25rem}
.doc-header{padding-top:.6rem;padding-bottom:.2rem}
.doc-kind{margin:0;color:var(--muted);font-size:.8rem;letter-spacing:.06em;text-transform:uppercase}
h1{margin:.1rem 0 .4rem;font-size:1.35rem;line-height:1.2}
h2{font-size:1.3rem;line-height:1.25;margin:0 0 .75rem}
h3{font-size:1.12rem;line-height:1.3;margin:1.1rem 0 .5rem}
h4{font-size:1rem;margin:1rem 0 .35rem}
a{color:var(--link)}
a:focus-visible,.table-wrap:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}
p{margin:.5rem 0}
ul,ol{margin:.35rem 0 .75rem;padding-left:1.4rem}
li{margin:.25rem 0}
bdi{unicode-bidi:isolate}
.muted{color:var(--muted)}
.label{font-weight:600}
.ident{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace;font-size:.92em;overflow-wrap:anywhere}
.visually-hidden{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
.facts{display:flex;flex-wrap:wrap;align-items:flex-end;gap:.3rem 1.75rem;margin:0;padding:.45rem .9rem;background:var(--paper);border:1px solid var(--line);border-radius:8px}
.fact{min-width:0;max-width:100%}
.fact dt{font-size:.75rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.fact dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.fact-patient dd{font-size:1.2rem}
.id-system{font-size:.8em;font-weight:400;color:var(--muted)}
.other-ids{margin:.2rem 0 0;font-size:.85rem;color:var(--muted)}
.other-ids ul{margin:.2rem 0}
.draft-notice{margin:.5rem 0;padding:.35rem .8rem;background:#fff3d6;border:1px solid #c98a0b;border-left:6px solid #c98a0b;border-radius:6px;color:#4a2e00}
.draft-tag{display:inline-block;padding:0 .4rem;border:1px solid #6b4200;border-radius:4px;font-size:.75rem;font-weight:800;letter-spacing:.06em;color:#4a2e00}
.summary-box h2{font-size:1.1rem;margin:0 0 .4rem}
td.reason{font-size:.92rem}
details>summary{cursor:pointer}
details>summary h2{display:inline;font-size:1.15rem}
.ids table{font-size:.82rem}
p,li,dd,td,th,caption{overflow-wrap:anywhere}
main{padding-bottom:2rem}
main>section,.doc-footer{background:var(--paper);border:1px solid var(--line);border-radius:8px;padding:.7rem 1.1rem;margin:.7rem 0}
.urgent{background:var(--esc-bg)!important;color:var(--esc-fg);border:4px solid #5c0a0c!important;padding:.55rem 1rem}
body>.urgent{max-width:59.5rem;margin:.5rem auto 0;border-radius:8px}
.urgent-head{display:flex;align-items:center;gap:.6rem;margin:0 0 .35rem}
.urgent h2{font-size:1.35rem;margin:0;letter-spacing:.01em}
.urgent-icon{display:inline-flex;flex:none;align-items:center;justify-content:center;width:2.1rem;height:2.1rem;border-radius:50%;background:#fff;color:var(--esc-bg);font-weight:800;font-size:1.4rem}
.urgent-lead{font-size:1rem;font-weight:600;margin:.15rem 0 .35rem}
.urgent h3{color:#fff;font-size:.95rem;margin:.3rem 0 .2rem}
.urgent ul{background:#fff;color:var(--ink);border-radius:6px;padding:.35rem .9rem .35rem 2rem;margin:.2rem 0 0}
.urgent ul.data{background:transparent;padding:0 0 0 1.2rem}
.urgent a{color:var(--link)}
.check-first{background:var(--paper);border:1px solid var(--line);border-left:6px solid #4f5862;border-radius:8px;padding:.5rem 1rem;margin:.7rem 0}
.check-first a{font-weight:600}
.table-wrap{overflow-x:auto;margin:.5rem 0 1rem}
table{border-collapse:collapse;width:100%;font-size:.95rem}
caption{text-align:left;font-weight:700;padding:.25rem 0 .5rem;caption-side:top}
th,td{border:1px solid var(--line);padding:.35rem .55rem;text-align:left;vertical-align:top}
thead th{background:var(--wash)}
tbody th{font-weight:600}
td ul,td ol{margin:0;padding-left:1.1rem}
table.summary td,table.summary th{vertical-align:middle}
.earliest-inline{display:none}
.s-findings table{font-size:.88rem}
.s-findings td:first-child,.s-findings td:nth-child(2){white-space:nowrap}
.sub-caption{font-size:.85rem;font-weight:700;color:#39414a;margin:.35rem 0 0}
.s-provenance ul.plain-list{list-style:none;padding-left:0}
.s-provenance ul.plain-list>li{margin:.3rem 0}
.badge{display:inline-flex;align-items:center;gap:.4rem;padding:.1rem .7rem .1rem .25rem;border:2px solid;border-radius:999px;font-weight:700;font-size:.88rem;line-height:1.4;white-space:nowrap}
.badge-icon{display:inline-flex;align-items:center;justify-content:center;width:1.35rem;height:1.35rem;border-radius:50%;color:#fff;font-size:.85rem;font-weight:800}
.badge.o-escalate{color:var(--esc-fg);background:var(--esc-bg);border-color:#5c0a0c}
.badge.o-escalate .badge-icon{background:#fff;color:var(--esc-bg)}
.badge.o-block{color:var(--blk-fg);background:var(--blk-bg);border-color:var(--blk-bd)}
.badge.o-block .badge-icon{background:var(--blk-bd)}
.badge.o-defer{color:var(--def-fg);background:var(--def-bg);border-color:var(--def-bd)}
.badge.o-defer .badge-icon{background:var(--def-fg)}
.badge.o-review{color:var(--rev-fg);background:var(--rev-bg);border-color:var(--rev-bd)}
.badge.o-review .badge-icon{background:var(--rev-fg)}
.badge.o-modify{color:var(--mod-fg);background:var(--mod-bg);border-color:var(--mod-bd)}
.badge.o-modify .badge-icon{background:var(--mod-fg)}
.badge.o-no-flag{color:var(--ok-fg);background:var(--ok-bg);border-color:var(--ok-bd)}
.badge.o-no-flag .badge-icon{background:var(--ok-fg)}
.badge.o-not-applicable{color:var(--na-fg);background:var(--na-bg);border-color:var(--na-bd)}
.badge.o-not-applicable .badge-icon{background:var(--na-fg)}
.massage{border:1px solid var(--line);border-left:8px solid var(--na-bd);border-radius:8px;padding:.25rem 1.1rem .75rem;margin:1.1rem 0;background:var(--paper)}
.massage.o-escalate{border-left-color:var(--esc-bg)}
.massage.o-block{border-left-color:var(--blk-bd)}
.massage.o-defer{border-left-color:var(--def-bd)}
.massage.o-review{border-left-color:var(--rev-bd)}
.massage.o-modify{border-left-color:var(--mod-bd)}
.massage.o-no-flag{border-left-color:var(--ok-bd)}
.massage-head{display:flex;flex-wrap:wrap;align-items:center;gap:.35rem .9rem;margin:.75rem 0 .25rem}
.massage-head h3{margin:0;font-size:1.2rem}
.earliest{font-size:1.05rem;margin:.4rem 0}
.urgent-note{color:var(--esc-bg);font-weight:700;border-left:4px solid var(--esc-bg);padding-left:.6rem}
.block-heading{color:#2d333a}
ul.data{list-style:square;margin:.2rem 0 .3rem;font-size:.88rem;color:#39414a}
ul.data li{overflow-wrap:anywhere}
ul.claims li{margin:.4rem 0}
.grade{display:inline-block;padding:0 .45rem;border:1px solid #8a939c;border-radius:4px;background:var(--wash);font-size:.82rem;font-weight:600;white-space:nowrap;color:#2d333a}
.grade-label{font-weight:400}
ul.checklist{list-style:none;padding-left:.2rem}
ul.checklist li{position:relative;padding-left:2rem;margin:.45rem 0}
ul.checklist li::before{content:"";position:absolute;left:0;top:.15rem;width:1.15rem;height:1.15rem;border:2px solid #4f5862;border-radius:3px;background:#fff}
.s-references li{overflow-wrap:anywhere}
.s-references li:target,.s-references li:focus{background:#fff8c5}
.footnote{color:var(--muted)}
.doc-footer{font-size:.88rem;color:var(--muted)}
.doc-footer ul.plain{list-style:none;padding:0;margin:0}
ul.plain-list{padding-left:1.2rem}
body.handout{background:#fff;font-size:18px;line-height:1.6}
html:lang(zh) body{font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","Source Han Sans CN","PingFang SC","Hiragino Sans GB","Microsoft YaHei","WenQuanYi Micro Hei",system-ui,sans-serif}
.handout .doc-header,.handout main{max-width:46rem}
.handout h1{font-size:1.6rem;margin:.6rem 0 .3rem}
.handout h2{font-size:1.25rem;margin:.2rem 0 .4rem}
.handout h3{font-size:1.1rem;margin:.6rem 0 .2rem}
.handout main>section{border:0;border-top:2px solid var(--line);border-radius:0;padding:.5rem 0;margin:.4rem 0;background:transparent}
.handout .h-handout-about{border-top:0}
.handout .h-handout-urgent{background:var(--esc-bg);color:#fff;border:4px solid #5c0a0c;border-radius:8px;padding:.6rem 1rem}
.handout .h-handout-help{border:3px solid var(--esc-bg);border-radius:8px;padding:.5rem 1rem}
.handout .h-handout-help h2{color:var(--esc-bg)}
.handout .h-type{margin:.3rem 0 .6rem}
.handout li{margin:.15rem 0}
@media (max-width:40rem){
body{font-size:15.5px}
.doc-header,main{padding:0 .6rem}
.doc-header{padding-top:.8rem}
h1{font-size:1.4rem}
.facts{grid-template-columns:1fr 1fr;padding:.6rem .75rem}
main>section,.doc-footer{padding:.75rem .8rem;border-radius:6px}
.massage{padding:.2rem .75rem .6rem;border-left-width:6px}
.urgent h2{font-size:1.3rem}
.urgent-lead{font-size:1rem}
.badge{white-space:normal;border-radius:.8rem}
.col-earliest{display:none}
table.summary .badge{font-size:.8rem;padding-right:.5rem}
table.summary tbody th{width:38%}
.earliest-inline time{white-space:nowrap}
.earliest-inline{display:block;margin-top:.3rem;font-size:.88rem}
.facts{gap:.5rem 1.25rem}
.s-findings td:first-child,.s-findings td:nth-child(2){white-space:normal}
table{font-size:.9rem}
table:not(.summary),table:not(.summary) tbody,table:not(.summary) tr,table:not(.summary) td,table:not(.summary) th{display:block;width:auto}
table:not(.summary) thead{display:none}
table:not(.summary) tr{border-top:2px solid var(--line);padding:.2rem 0}
table:not(.summary) td,table:not(.summary) th{border:0;padding:.15rem .3rem}
.fact-patient{flex-basis:100%}
table.summary,table.summary tbody,table.summary tr,table.summary th,table.summary td{display:block;width:auto;border:0}
table.summary thead{display:none}
table.summary tr{border-top:1px solid var(--line);padding:.35rem 0}
table.summary tbody th,table.summary td{padding:.1rem 0}
table.summary tbody th{width:auto}
table.summary .badge{white-space:nowrap;font-size:.85rem}
table.summary td.reason{font-size:.9rem}
table.summary td.col-earliest{display:none}
td,li,p{overflow-wrap:break-word}
.ident,.s-provenance li,.ids td{overflow-wrap:anywhere}
}
@media print{
@page{margin:10mm}
body{background:#fff;font-size:9pt;line-height:1.3;color:#000}
p.why{display:none}
h2{font-size:11.5pt;margin:0 0 .3rem}
h3,.massage-head h3{font-size:10.5pt}
h4,.block-heading{font-size:9.5pt;margin:.3rem 0 .1rem}
.massage-head{margin:.3rem 0 .1rem}
.facts{padding:.2rem .5rem}
.doc-header,main,body>.urgent{max-width:none;padding:0}
main>section,.doc-footer{padding:.3rem .5rem;margin:.35rem 0}
.massage{padding:.1rem .6rem .3rem;margin:.4rem 0}
h3{margin:.5rem 0 .25rem}
ul,ol{margin:.15rem 0 .35rem}
li{margin:.05rem 0}
p{margin:.25rem 0}
.draft-notice{border:2px solid #000;color:#000;background:#fff}
.draft-tag{color:#000;border-color:#000}
.check-first{display:none}
details:not([open])>:not(summary){display:none}
*{overflow-wrap:anywhere}
main>section,.doc-footer,.facts,.massage{border-radius:0;box-shadow:none}
.urgent{background:#fff!important;color:#000;border:5px double #000!important}
.urgent h3,.urgent a{color:#000}
.urgent ul{border:1px solid #000}
.urgent ul ul{border:0}
.urgent-icon{background:#000;color:#fff;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.badge,.badge.o-escalate{background:#fff;color:#000;border-color:#000}
.badge.o-escalate{border-width:3px}
.badge-icon,.badge.o-escalate .badge-icon{background:#000;color:#fff;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.urgent-note{color:#000}
body.handout{font-size:11pt;line-height:1.4}
.handout main>section{padding:.2rem 0;margin:.2rem 0}
.handout .h-handout-help,.handout .h-handout-urgent{border:2px solid #000;background:#fff;color:#000}
.handout .h-handout-help h2{color:#000}
.handout h1{font-size:15pt}
.handout h2{font-size:12.5pt}
.handout h3{font-size:11.5pt;margin:.3rem 0 .1rem}
body.handout{font-size:10pt;line-height:1.35}
.handout li{margin:0}
.handout .h-handout-help ul,.handout .h-handout-now ul,.handout .h-handout-wait ul{columns:2;column-gap:7mm}
.handout .h-handout-about p{margin:.1rem 0}
.handout h1{margin:0 0 .2rem}
.handout .h-handout-how{columns:2;column-gap:7mm}
.handout .h-handout-how>h2,.handout .h-handout-how>p{column-span:all}
.handout .h-type{break-inside:avoid}
.handout ul,.handout ol{padding-left:1.1rem}
.guidance{columns:2;column-gap:6mm;column-fill:balance}
.guidance>h2,.guidance>p,.guidance>div{column-span:all}
.massage{break-inside:auto;border-left-width:4px;margin:0 0 .4rem}
.s-warning-signs ul,.s-findings .block ul{columns:2;column-gap:6mm}
.table-wrap{overflow:visible}
.check-first{border-left-width:3px}
h2,h3,h4,.massage-head{break-after:avoid;page-break-after:avoid}
li,tr,.badge,.earliest{break-inside:avoid;page-break-inside:avoid}
.urgent{break-inside:avoid}
a{color:inherit;text-decoration:none}
.s-references a[rel~="external"]{text-decoration:underline}
}
</xsl:text>
  </xsl:template>

</xsl:stylesheet>
